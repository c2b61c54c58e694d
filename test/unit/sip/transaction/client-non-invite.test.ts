import { describe, expect, it } from 'vitest';
import type { SipMessage } from '../../../../sip/message/types.ts';
import {
  checkTablesEmptyAfterEach,
  flush,
  harness,
  peer,
  recorder,
  reply,
  request,
  T1,
  T2,
  T4,
} from './helpers.ts';

checkTablesEmptyAfterEach();

const isOptions = (m: SipMessage) => m.kind === 'request' && m.method === 'OPTIONS';

const start = (transport: 'udp' | 'tcp' = 'udp') => {
  const h = harness();
  const rec = recorder();
  const tx = h.layer.createClientTransaction(
    request({ method: 'OPTIONS', via: null }),
    peer(transport),
    rec.handlers,
  );
  return { h, rec, tx };
};

describe('State machine: client non-INVITE', () => {
  it('starts in Trying and sends the request', () => {
    const { h, tx } = start();
    expect(tx.kind).toBe('nict');
    expect(tx.state).toBe('Trying');
    expect(h.transport.requests('OPTIONS')).toHaveLength(1);
    h.transport.deliver(reply(tx.request, 200, 't'));
  });

  it('Timer E doubles from T1 and is capped at T2 while Trying', () => {
    const { h, tx } = start();
    h.clock.advance(64 * T1 - 1);
    // 0, then +500, +1000, +2000, +4000 (capped), +4000, …
    expect(h.transport.times(isOptions)).toEqual([
      0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]);
    expect(tx.state).toBe('Trying');
  });

  it('Timer E in Proceeding retransmits every T2', () => {
    const { h, rec, tx } = start();
    h.clock.advance(600); // retransmitted at 500, next E due at 1500
    h.transport.deliver(reply(tx.request, 100));
    expect(tx.state).toBe('Proceeding');
    expect(rec.responses).toEqual([100]);
    h.clock.advance(20_000 - 600);
    // E fires at 1500 (armed before Proceeding), then every T2.
    expect(h.transport.times(isOptions)).toEqual([
      0,
      500,
      1500,
      1500 + T2,
      1500 + 2 * T2,
      1500 + 3 * T2,
      1500 + 4 * T2,
    ]);
    h.transport.deliver(reply(tx.request, 180));
    expect(rec.responses).toEqual([100, 180]);
  });

  it('Timer F fires at 64*T1 in Trying: timeout to the TU, Terminated', () => {
    const { h, rec, tx } = start();
    h.clock.advance(64 * T1 - 1);
    expect(rec.timeouts).toBe(0);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
    expect(rec.terminated).toBe(1);
  });

  it('Timer F also fires in Proceeding', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 100));
    h.clock.advance(64 * T1);
    expect(rec.states).toEqual(['Proceeding', 'Terminated']);
    expect(rec.timeouts).toBe(1);
  });

  it('over TCP there is no Timer E, but Timer F fires at 64*T1', () => {
    const { h, rec, tx } = start('tcp');
    h.clock.advance(64 * T1 - 1);
    expect(h.transport.requests('OPTIONS')).toHaveLength(1);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
  });

  it('final response in Trying → Completed: passed to the TU, retransmissions stop', () => {
    const { h, rec, tx } = start();
    h.clock.advance(700);
    h.transport.deliver(reply(tx.request, 404, 't'));
    expect(tx.state).toBe('Completed');
    expect(rec.responses).toEqual([404]);
    h.clock.advance(T4 - 1);
    expect(h.transport.requests('OPTIONS')).toHaveLength(2);
  });

  it('final response in Proceeding → Completed', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 100));
    h.transport.deliver(reply(tx.request, 200, 't'));
    expect(rec.states).toEqual(['Proceeding', 'Completed']);
    expect(rec.responses).toEqual([100, 200]);
  });

  it('Completed absorbs retransmitted responses (the TU sees the final response once)', () => {
    const { h, rec, tx } = start();
    const ok = reply(tx.request, 200, 't');
    h.transport.deliver(ok);
    h.transport.deliver(ok);
    h.transport.deliver(reply(tx.request, 100));
    expect(rec.responses).toEqual([200]);
    expect(h.stray).toHaveLength(0);
  });

  it('Timer K: Completed lasts T4 over UDP', () => {
    const { h, tx } = start();
    h.transport.deliver(reply(tx.request, 200, 't'));
    h.clock.advance(T4 - 1);
    expect(tx.state).toBe('Completed');
    h.clock.advance(1);
    expect(tx.state).toBe('Terminated');
  });

  it('Timer K is 0 over TCP: Completed then Terminated at once', () => {
    const { h, rec, tx } = start('tcp');
    h.transport.deliver(reply(tx.request, 200, 't'), peer('tcp'));
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    expect(rec.responses).toEqual([200]);
    expect(h.layer.size()).toBe(0);
  });

  it('transport error in Trying (sync) → TU informed, Terminated', () => {
    const h = harness();
    h.transport.failWith = () => 'throw';
    const rec = recorder();
    const tx = h.layer.createClientTransaction(
      request({ method: 'MESSAGE', via: null }),
      peer(),
      rec.handlers,
    );
    expect(rec.transportErrors.map((e) => e.message)).toEqual(['ECONNREFUSED (sync)']);
    expect(tx.state).toBe('Terminated');
  });

  it('transport error on a retransmission in Proceeding (async) → TU informed, Terminated', async () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 100));
    h.transport.failWith = () => 'reject';
    h.clock.advance(T1);
    await flush();
    expect(rec.transportErrors).toHaveLength(1);
    expect(rec.states).toEqual(['Proceeding', 'Terminated']);
    expect(h.clock.pending()).toBe(0);
  });

  it('a TU that throws in onResponse does not break the state machine (error reported)', () => {
    const h = harness();
    const tx = h.layer.createClientTransaction(request({ method: 'OPTIONS', via: null }), peer(), {
      onResponse: () => {
        throw new Error('TU bug');
      },
    });
    h.transport.deliver(reply(tx.request, 200, 't'));
    expect(h.errors.map((e) => e.message)).toEqual(['TU bug']);
    expect(tx.state).toBe('Completed');
    h.clock.advance(T4);
    expect(tx.state).toBe('Terminated');
  });

  it('T2 caps at the configured value', () => {
    const h = harness({ timers: { T1: 100, T2: 300 } });
    const tx = h.layer.createClientTransaction(
      request({ method: 'OPTIONS', via: null }),
      peer(),
      recorder().handlers,
    );
    h.clock.advance(2000);
    expect(h.transport.times(isOptions)).toEqual([0, 100, 300, 600, 900, 1200, 1500, 1800]);
    h.clock.advance(64 * 100);
    expect(tx.state).toBe('Terminated');
    expect(T2).toBe(4000);
  });
});
