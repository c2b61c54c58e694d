import { describe, expect, it } from 'vitest';
import { cseqOf, topVia, toTag } from '../../../../sip/message/accessors.ts';
import type { SipMessage } from '../../../../sip/message/types.ts';
import type { ClientInviteTransaction } from '../../../../sip/transaction/client-invite.ts';
import {
  branchOf,
  checkTablesEmptyAfterEach,
  flush,
  harness,
  peer,
  recorder,
  reply,
  request,
  T1,
} from './helpers.ts';

checkTablesEmptyAfterEach();

const isInvite = (m: SipMessage) => m.kind === 'request' && m.method === 'INVITE';
const isAck = (m: SipMessage) => m.kind === 'request' && m.method === 'ACK';

const start = (transport: 'udp' | 'tcp' = 'udp', opts: { timerC?: boolean } = {}) => {
  const h = harness();
  const rec = recorder();
  const invite = request({
    via: null,
    routes: ['<sip:proxy1.example.com;lr>', '<sip:proxy2.example.com;lr>'],
  });
  const tx = h.layer.createClientTransaction(
    invite,
    peer(transport),
    rec.handlers,
    opts,
  ) as ClientInviteTransaction;
  return { h, rec, tx, invite };
};

describe('State machine: client INVITE', () => {
  it('starts in Calling and sends the INVITE once, with a Via and an RFC 3261 branch added', () => {
    const { h, tx } = start();
    expect(tx.kind).toBe('ict');
    expect(tx.state).toBe('Calling');
    expect(h.transport.requests('INVITE')).toHaveLength(1);
    const via = topVia(tx.request);
    expect(via?.transport).toBe('UDP');
    expect(via?.host).toBe('192.0.2.1');
    expect(branchOf(tx.request)).toMatch(/^z9hG4bK[0-9a-f]{24}$/);
    h.layer.receive({ message: reply(tx.request, 486, 'x'), source: peer(), raw: Buffer.alloc(0) });
  });

  it('Timer A fires at T1, 2T1, 4T1, … (doubling, no cap) while Calling over UDP', () => {
    const { h, tx } = start();
    h.clock.advance(31_999);
    expect(h.transport.times(isInvite)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(tx.state).toBe('Calling');
  });

  it('Timer B fires at 64*T1 in Calling: the TU is told of the timeout, the transaction terminates', () => {
    const { h, rec, tx } = start();
    h.clock.advance(64 * T1 - 1);
    expect(rec.timeouts).toBe(0);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
    expect(rec.states).toEqual(['Terminated']);
    expect(rec.terminated).toBe(1);
    expect(h.layer.size()).toBe(0);
    h.clock.advance(100_000);
    expect(h.transport.requests('INVITE')).toHaveLength(7);
  });

  it('over TCP there is no Timer A (no retransmission), but Timer B still fires at 64*T1', () => {
    const { h, rec, tx } = start('tcp');
    expect(tx.reliable).toBe(true);
    h.clock.advance(64 * T1 - 1);
    expect(h.transport.requests('INVITE')).toHaveLength(1);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
  });

  it('1xx in Calling → Proceeding: passed to the TU, retransmissions stop, Timer B no longer applies', () => {
    const { h, rec, tx } = start();
    h.clock.advance(600);
    h.transport.deliver(reply(tx.request, 100));
    expect(tx.state).toBe('Proceeding');
    expect(rec.responses).toEqual([100]);
    h.clock.advance(100_000);
    expect(h.transport.requests('INVITE')).toHaveLength(2); // 0 and 500 only
    expect(rec.timeouts).toBe(0);
    expect(tx.state).toBe('Proceeding');
    h.transport.deliver(reply(tx.request, 180, 'b1'));
    expect(rec.responses).toEqual([100, 180]); // 1xx in Proceeding → TU
    h.transport.deliver(reply(tx.request, 486, 'b1'));
    expect(rec.states).toEqual(['Proceeding', 'Completed']);
  });

  it('2xx in Calling → Accepted (RFC 6026): passed to the TU, no ACK sent by the transaction', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    expect(tx.state).toBe('Accepted');
    expect(rec.responses).toEqual([200]);
    expect(h.transport.requests('ACK')).toHaveLength(0);
    h.clock.advance(10_000);
    expect(h.transport.requests('INVITE')).toHaveLength(1); // Timer A stopped
  });

  it('2xx in Proceeding → Accepted', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 180, 'b1'));
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    expect(rec.states).toEqual(['Proceeding', 'Accepted']);
  });

  it('Accepted: retransmitted and additional (forked) 2xx are passed to the TU, not stray; others absorbed', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    h.transport.deliver(reply(tx.request, 200, 'b2'));
    h.transport.deliver(reply(tx.request, 180, 'b3'));
    h.transport.deliver(reply(tx.request, 486, 'b4'));
    expect(rec.responses).toEqual([200, 200, 200]);
    expect(h.stray).toHaveLength(0);
    expect(h.transport.requests('ACK')).toHaveLength(0);
  });

  it('Timer M: Accepted lasts 64*T1, then Terminated; later 2xx are stray', () => {
    const { h, rec, tx } = start();
    h.clock.advance(1000);
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    h.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('Accepted');
    h.clock.advance(1);
    expect(tx.state).toBe('Terminated');
    expect(rec.timeouts).toBe(0);
    h.transport.deliver(reply(tx.request, 200, 'b1'));
    expect(h.stray.map((r) => r.status)).toEqual([200]);
  });

  it('Timer M is also 64*T1 over TCP', () => {
    const { h, tx } = start('tcp');
    h.transport.deliver(reply(tx.request, 200, 'b1'), peer('tcp'));
    h.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('Accepted');
    h.clock.advance(1);
    expect(tx.state).toBe('Terminated');
  });

  it('300-699 in Calling → Completed: passed to the TU once and ACKed per §17.1.1.3', () => {
    const { h, rec, tx, invite } = start();
    const resp = reply(tx.request, 486, 'callee-tag');
    h.transport.deliver(resp);
    expect(tx.state).toBe('Completed');
    expect(rec.responses).toEqual([486]);
    const [ack, ...more] = h.transport.requests('ACK');
    expect(more).toHaveLength(0);
    if (ack === undefined) throw new Error('no ACK');
    expect(ack.uri).toBe(invite.uri);
    expect(ack.headers.getAll('Via')).toEqual([tx.request.headers.get('Via')]);
    expect(branchOf(ack)).toBe(tx.branch);
    expect(ack.headers.get('Call-ID')).toBe(invite.headers.get('Call-ID'));
    expect(ack.headers.get('From')).toBe(invite.headers.get('From'));
    expect(ack.headers.get('To')).toBe(resp.headers.get('To'));
    expect(toTag(ack)).toBe('callee-tag');
    expect(cseqOf(ack)).toEqual({ seq: cseqOf(invite).seq, method: 'ACK' });
    expect(ack.headers.getAll('Route')).toEqual([
      '<sip:proxy1.example.com;lr>',
      '<sip:proxy2.example.com;lr>',
    ]);
    expect(ack.headers.get('Max-Forwards')).toBe('70');
    expect(h.transport.sent.at(-1)?.to).toEqual(peer());
  });

  it('300-699 in Proceeding → Completed', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 183, 'x'));
    h.transport.deliver(reply(tx.request, 603, 'x'));
    expect(rec.states).toEqual(['Proceeding', 'Completed']);
    expect(h.transport.requests('ACK')).toHaveLength(1);
  });

  it('Completed: a retransmitted final response re-sends the ACK and is not passed to the TU', () => {
    const { h, rec, tx } = start();
    const resp = reply(tx.request, 404, 't');
    h.transport.deliver(resp);
    h.transport.deliver(resp);
    h.transport.deliver(resp);
    expect(rec.responses).toEqual([404]);
    expect(h.transport.requests('ACK')).toHaveLength(3);
    h.transport.deliver(reply(tx.request, 180, 't'));
    h.transport.deliver(reply(tx.request, 200, 't'));
    expect(rec.responses).toEqual([404]);
  });

  it('Timer D: Completed lasts 32 s over UDP', () => {
    const { h, tx } = start();
    h.transport.deliver(reply(tx.request, 500, 't'));
    h.clock.advance(32_000 - 1);
    expect(tx.state).toBe('Completed');
    h.clock.advance(1);
    expect(tx.state).toBe('Terminated');
  });

  it('Timer D is configurable (timers.timerD)', () => {
    const h = harness({ timers: { timerD: 40_000 } });
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), recorder().handlers);
    h.transport.deliver(reply(tx.request, 500, 't'));
    h.clock.advance(39_999);
    expect(tx.state).toBe('Completed');
    h.clock.advance(1);
    expect(tx.state).toBe('Terminated');
  });

  it('Timer D is 0 over TCP: Completed then Terminated at once (ACK still sent)', () => {
    const { h, rec, tx } = start('tcp');
    h.transport.deliver(reply(tx.request, 486, 't'), peer('tcp'));
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    expect(tx.state).toBe('Terminated');
    expect(h.transport.requests('ACK')).toHaveLength(1);
    expect(h.layer.size()).toBe(0);
  });

  it('transport error on the INVITE (synchronous) → TU informed, Terminated', () => {
    const h = harness();
    h.transport.failWith = () => 'throw';
    const rec = recorder();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), rec.handlers);
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Terminated');
    expect(rec.states).toEqual(['Terminated']);
    expect(h.layer.size()).toBe(0);
  });

  it('transport error on a retransmission (rejected promise) → TU informed, Terminated, timers stopped', async () => {
    const { h, rec, tx } = start();
    h.transport.failWith = () => 'reject';
    h.clock.advance(T1);
    await flush();
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Terminated');
    expect(h.clock.pending()).toBe(0);
    expect(rec.timeouts).toBe(0);
  });

  it('transport error on the ACK → TU informed, Terminated', () => {
    const { h, rec, tx } = start();
    h.transport.failWith = (m) => (isAck(m) ? 'throw' : undefined);
    h.transport.deliver(reply(tx.request, 486, 't'));
    expect(rec.responses).toEqual([486]);
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Terminated');
  });

  it('Timer C (opt-in, §16.8): fires in Proceeding → CANCEL sent; reset by each provisional', () => {
    const { h, tx } = start('udp', { timerC: true });
    h.clock.advance(1000);
    h.transport.deliver(reply(tx.request, 180, 'b'));
    h.clock.advance(170_000);
    h.transport.deliver(reply(tx.request, 180, 'b')); // resets Timer C
    h.clock.advance(180_000 - 1);
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
    h.clock.advance(1);
    expect(h.transport.requests('CANCEL')).toHaveLength(1);
    expect(tx.cancelSent).toBe(true);
    // The UAS answers the CANCEL and terminates the INVITE with 487.
    const cancel = h.transport.requests('CANCEL')[0];
    if (cancel === undefined) throw new Error('no CANCEL');
    h.transport.deliver(reply(cancel, 200, 'b'));
    h.transport.deliver(reply(tx.request, 487, 'b'));
    expect(tx.state).toBe('Completed');
  });

  it('Timer C fires in Calling (no provisional) → timeout reported', () => {
    const h = harness({ timers: { timerC: 10_000 } });
    const rec = recorder();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer('tcp'), rec.handlers, {
      timerC: true,
    });
    h.clock.advance(10_000);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
  });

  it('inviteTimerC: true turns Timer C on for every client INVITE', () => {
    const h = harness({ inviteTimerC: true, timers: { timerC: 60_000 } });
    const rec = recorder();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), rec.handlers);
    h.transport.deliver(reply(tx.request, 180, 'b'));
    h.clock.advance(60_000);
    expect(h.transport.requests('CANCEL')).toHaveLength(1);
  });

  it('§9.1 guard: after a CANCEL, no final response within 64*T1 → the INVITE transaction is destroyed', () => {
    const { h, rec, tx } = start();
    h.transport.deliver(reply(tx.request, 180, 'b'));
    expect(h.layer.cancel(tx)).toBe(true);
    expect(h.transport.requests('CANCEL')).toHaveLength(1);
    h.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('Proceeding');
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
  });

  it('Accepted and Completed keep only the skeleton of the INVITE: no body, only Via, Route, From, To, Call-ID and CSeq', () => {
    const names = (tx: ClientInviteTransaction) => tx.request.headers.entries.map(([n]) => n);
    const skeleton = ['Via', 'Route', 'Route', 'From', 'To', 'Call-ID', 'CSeq'];
    for (const status of [200, 486]) {
      const { h, rec, tx } = start();
      tx.request.body = Buffer.from('v=0\r\n');
      tx.request.headers.add('Content-Type', 'application/sdp');
      const full = tx.request;
      h.transport.deliver(reply(full, 180, 'b1'));
      expect(tx.request).toBe(full); // Proceeding: the whole INVITE (a CANCEL repeats its Route set)
      h.transport.deliver(reply(full, status, 'b1'));
      expect(names(tx)).toEqual(skeleton);
      expect(tx.request.body.length).toBe(0);
      expect(tx.request.uri).toBe(full.uri);
      // Retransmissions are still handled: a 2xx is passed up again, a failure is ACKed again.
      h.transport.deliver(reply(full, status, 'b1'));
      if (status === 200) expect(rec.responses).toEqual([180, 200, 200]);
      else {
        const acks = h.transport.requests('ACK');
        expect(acks).toHaveLength(2);
        expect(acks[1]?.headers.getAll('Route')).toEqual(full.headers.getAll('Route'));
      }
      h.clock.advance(64 * T1);
    }
  });
});
