import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../../../../sip/message/types.ts';
import type { ServerNonInviteTransaction } from '../../../../sip/transaction/server-non-invite.ts';
import {
  branch,
  checkTablesEmptyAfterEach,
  flush,
  harness,
  peer,
  reply,
  request,
  serverRecorder,
  T1,
} from './helpers.ts';

checkTablesEmptyAfterEach();

const start = (transport: 'udp' | 'tcp' = 'udp') => {
  const h = harness();
  const rec = serverRecorder();
  const seen: { tx: ServerNonInviteTransaction; req: SipRequest }[] = [];
  h.layer.onRequest((tx, req) => {
    if (tx.kind !== 'nist') throw new Error('expected a non-INVITE server transaction');
    tx.handlers = rec.handlers;
    seen.push({ tx, req });
  });
  const T = transport.toUpperCase();
  const req = request({ method: 'MESSAGE', via: `SIP/2.0/${T} 192.0.2.20:5060;branch=${branch()}` });
  h.transport.deliver(req, peer(transport));
  const first = seen[0];
  if (first === undefined) throw new Error('TU did not get the request');
  return { h, rec, tx: first.tx, req, seen };
};

describe('State machine: server non-INVITE', () => {
  it('starts in Trying, passes the request to the TU, sends nothing', () => {
    const { h, tx, req, seen } = start();
    expect(tx.kind).toBe('nist');
    expect(tx.state).toBe('Trying');
    expect(seen).toHaveLength(1);
    expect(h.transport.sent).toHaveLength(0);
    tx.respond(reply(req, 200, 'u'));
  });

  it('a retransmission in Trying is discarded', () => {
    const { h, tx, req, seen } = start();
    h.transport.deliver(req);
    expect(h.transport.sent).toHaveLength(0);
    expect(seen).toHaveLength(1);
    tx.respond(reply(req, 200, 'u'));
  });

  it('1xx from the TU → Proceeding; a retransmission resends the latest provisional', () => {
    const { h, rec, tx, req } = start();
    expect(tx.respond(reply(req, 100))).toBe(true);
    expect(tx.state).toBe('Proceeding');
    expect(tx.respond(reply(req, 180, 'u'))).toBe(true);
    h.transport.deliver(req);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 180, 180]);
    tx.respond(reply(req, 202, 'u'));
    expect(rec.states).toEqual(['Proceeding', 'Completed']);
  });

  it('final response in Trying → Completed; a retransmission resends it; later responses are discarded', () => {
    const { h, tx, req, seen } = start();
    expect(tx.respond(reply(req, 404, 'u'))).toBe(true);
    expect(tx.state).toBe('Completed');
    h.transport.deliver(req);
    h.transport.deliver(req);
    expect(h.transport.responses().map((r) => r.status)).toEqual([404, 404, 404]);
    expect(tx.respond(reply(req, 200, 'u'))).toBe(false);
    expect(tx.respond(reply(req, 100))).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('final response in Proceeding → Completed', () => {
    const { rec, tx, req } = start();
    tx.respond(reply(req, 100));
    tx.respond(reply(req, 500, 'u'));
    expect(rec.states).toEqual(['Proceeding', 'Completed']);
  });

  it('Timer J: Completed lasts 64*T1 over UDP', () => {
    const { h, rec, tx, req } = start();
    tx.respond(reply(req, 200, 'u'));
    h.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('Completed');
    h.clock.advance(1);
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    expect(rec.timeouts).toBe(0);
  });

  it('Timer J is 0 over TCP: Completed then Terminated at once', () => {
    const { h, rec, tx, req } = start('tcp');
    tx.respond(reply(req, 200, 'u'));
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    expect(h.layer.size()).toBe(0);
  });

  it('transport error sending a provisional → TU informed, Terminated', () => {
    const { h, rec, tx, req } = start();
    h.transport.failWith = () => 'throw';
    tx.respond(reply(req, 100));
    expect(rec.transportErrors).toHaveLength(1);
    expect(rec.states).toEqual(['Proceeding', 'Terminated']);
  });

  it('transport error sending the final response (async) → TU informed, Terminated', async () => {
    const { h, rec, tx, req } = start();
    h.transport.failWith = () => 'reject';
    tx.respond(reply(req, 200, 'u'));
    await flush();
    expect(rec.transportErrors).toHaveLength(1);
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    expect(h.clock.pending()).toBe(0);
  });

  it('transport error resending the final response in Completed → TU informed, Terminated', () => {
    const { h, rec, tx, req } = start();
    tx.respond(reply(req, 200, 'u'));
    h.transport.failWith = () => 'throw';
    h.transport.deliver(req);
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Terminated');
  });
});
