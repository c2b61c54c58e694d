/**
 * The edge's advertised host (RFC 3261 §18.1.1 sent-by, §8.1.1.8 Contact): a container binds 0.0.0.0,
 * so requests it originates must name the address members reach it by.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionsClient } from '../../../edge/functions-client.ts';
import { type SipEdge, startSipEdge } from '../../../edge/sip-edge.ts';

const unused = () => Promise.reject(new Error('not used'));
const functions = {
  credentials: async () => undefined,
  register: unused,
  bindings: unused,
  routeCall: unused,
  publishAffiliation: unused,
  cancelCall: unused,
  releaseCall: unused,
} as unknown as FunctionsClient;

describe('SIP edge: advertised host', () => {
  let edge: SipEdge;
  const socket = createSocket('udp4');
  let port = 0;
  beforeAll(async () => {
    edge = await startSipEdge({
      domain: 'primary.example',
      host: '127.0.0.1',
      advertisedHost: 'sip.primary.example',
      port: 0,
      functions,
      authSecret: Buffer.from('x'),
    });
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    port = socket.address().port;
  });
  afterAll(async () => {
    socket.close();
    await edge?.stop();
  });

  it('puts the advertised host, not the bind address, in Via and Contact of an originated INVITE', async () => {
    const received = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
    const leg = edge.originate({
      target: `sip:carol@127.0.0.1:${port}`,
      to: 'sip:carol@primary.example',
      from: { uri: 'sip:tg@primary.example' },
      onFinal: () => undefined,
    });
    expect(leg).toBeDefined();
    const invite = await received;
    expect(invite).toMatch(
      new RegExp(`^Via: SIP/2.0/UDP sip\\.primary\\.example:${edge.udp.port};branch=`, 'm'),
    );
    expect(invite).toMatch(new RegExp(`^Contact: <sip:edge@sip\\.primary\\.example:${edge.udp.port}>`, 'm'));
    expect(invite).not.toContain(`127.0.0.1:${String(edge.udp.port)}`);
  });
});
