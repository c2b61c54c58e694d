/**
 * The edge names its own control API with every INVITE it asks the functions to route (`edgeUrl` of
 * `POST /edge/calls`), so the functions act on the calls it holds at this edge task (decision 0011).
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionsClient } from '../../../edge/functions-client.ts';
import { type SipEdge, startSipEdge } from '../../../edge/sip-edge.ts';

const unused = () => Promise.reject(new Error('not used'));

describe('SIP edge: its own control URL', () => {
  const routed: unknown[][] = [];
  const functions = {
    credentials: async () => undefined,
    register: unused,
    bindings: unused,
    routeCall: async (...args: unknown[]) => {
      routed.push(args);
      return { action: 'reject', status: 404, reason: 'Not Found' };
    },
    publishAffiliation: unused,
    cancelCall: unused,
    releaseCall: unused,
  } as unknown as FunctionsClient;
  let edge: SipEdge;
  const socket = createSocket('udp4');
  let port = 0;
  let n = 0;
  beforeAll(async () => {
    edge = await startSipEdge({
      domain: 'primary.example',
      host: '127.0.0.1',
      port: 0,
      functions,
      authSecret: Buffer.from('x'),
      authenticate: false,
      controlUrl: 'http://127.0.0.1:18061',
    });
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    port = socket.address().port;
  });
  afterAll(async () => {
    socket.close();
    await edge?.stop();
  });

  /** Sends an INVITE to the TGI and waits for the final response's status. */
  const invite = async (): Promise<number> => {
    n++;
    const callId = `own-url-${n}`;
    const final = new Promise<number>((resolve) => {
      const onMessage = (m: Buffer) => {
        const status = Number(/^SIP\/2\.0 (\d{3})/.exec(m.toString())?.[1]);
        if (status >= 200 && m.toString().includes(callId)) {
          socket.off('message', onMessage);
          resolve(status);
        }
      };
      socket.on('message', onMessage);
    });
    const request = [
      'INVITE sip:tg@primary.example SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-own-url-${n};rport`,
      'Max-Forwards: 70',
      'From: <sip:alice@primary.example>;tag=a1',
      'To: <sip:tg@primary.example>',
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@127.0.0.1:${port}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(request, edge.udp.port, '127.0.0.1');
    return final;
  };

  it('sends the control URL it was started with, then the one it is given', async () => {
    expect(edge.controlUrl).toBe('http://127.0.0.1:18061');
    expect(await invite()).toBe(404);
    expect(routed.at(-1)?.[4]).toBe('http://127.0.0.1:18061');
    edge.controlUrl = 'http://10.0.1.7:8061';
    expect(await invite()).toBe(404);
    expect(routed.at(-1)?.[4]).toBe('http://10.0.1.7:8061');
    expect(routed.at(-1)?.slice(0, 3)).toEqual([
      'sip:alice@primary.example',
      'sip:tg@primary.example',
      'own-url-2',
    ]);
    edge.controlUrl = undefined;
    expect(await invite()).toBe(404);
    expect(routed.at(-1)?.[4]).toBeUndefined();
  });
});
