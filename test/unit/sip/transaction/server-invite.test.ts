import { describe, expect, it } from 'vitest';
import { toTag } from '../../../../sip/message/accessors.ts';
import type { SipMessage, SipRequest } from '../../../../sip/message/types.ts';
import type { ServerInviteTransaction } from '../../../../sip/transaction/server-invite.ts';
import {
  ackFor,
  branch,
  checkTablesEmptyAfterEach,
  flush,
  type Harness,
  harness,
  peer,
  reply,
  request,
  serverRecorder,
  T1,
  T4,
} from './helpers.ts';

checkTablesEmptyAfterEach();

const status = (code: number) => (m: SipMessage) => m.kind === 'response' && m.status === code;

/** A server INVITE transaction created by delivering an INVITE from the peer. */
const start = (transport: 'udp' | 'tcp' = 'udp', h: Harness = harness()) => {
  const rec = serverRecorder();
  const seen: { tx: ServerInviteTransaction; req: SipRequest }[] = [];
  h.layer.onRequest((tx, req) => {
    if (tx.kind !== 'ist') throw new Error('expected an INVITE server transaction');
    tx.handlers = rec.handlers;
    seen.push({ tx, req });
  });
  const T = transport.toUpperCase();
  const invite = request({
    via: `SIP/2.0/${T} 192.0.2.20:5060;branch=${branch()}`,
    headers: [['Timestamp', '54']],
  });
  h.transport.deliver(invite, peer(transport));
  const first = seen[0];
  if (first === undefined) throw new Error('TU did not get the INVITE');
  return { h, rec, tx: first.tx, invite, seen };
};

describe('State machine: server INVITE', () => {
  it('starts in Proceeding, sends 100 Trying at once (no To tag, Timestamp copied) and passes the INVITE to the TU', () => {
    const { h, tx, invite, seen } = start();
    expect(tx.kind).toBe('ist');
    expect(tx.state).toBe('Proceeding');
    expect(seen).toHaveLength(1);
    const [trying, ...more] = h.transport.responses();
    expect(more).toHaveLength(0);
    expect(trying?.status).toBe(100);
    expect(trying === undefined ? 'x' : toTag(trying)).toBeUndefined();
    expect(trying?.headers.get('Timestamp')).toBe('54');
    expect(h.transport.sent[0]?.to).toEqual(peer());
    tx.respond(reply(invite, 486, 'u1'));
    h.transport.deliver(ackFor(invite, reply(invite, 486, 'u1')));
  });

  it('auto100: false sends nothing until the TU responds', () => {
    const h = harness({ auto100: false });
    const { tx, invite } = start('udp', h);
    expect(h.transport.sent).toHaveLength(0);
    h.transport.deliver(invite); // retransmission: no provisional to resend yet
    expect(h.transport.sent).toHaveLength(0);
    tx.respond(reply(invite, 603, 'u1'));
  });

  it('INVITE retransmission in Proceeding resends the 100, then the latest provisional; never reaches the TU again', () => {
    const { h, tx, invite, seen } = start();
    h.transport.deliver(invite);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 100]);
    tx.respond(reply(invite, 180, 'u1'));
    tx.respond(reply(invite, 183, 'u1'));
    h.transport.deliver(invite);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 100, 180, 183, 183]);
    expect(seen).toHaveLength(1);
    expect(tx.state).toBe('Proceeding');
    tx.respond(reply(invite, 480, 'u1'));
  });

  it('2xx from the TU → Accepted (RFC 6026); INVITE retransmissions absorbed, 2xx retransmissions from the TU sent', () => {
    const { h, rec, tx, invite, seen } = start();
    const ok = reply(invite, 200, 'u1');
    expect(tx.respond(ok)).toBe(true);
    expect(tx.state).toBe('Accepted');
    expect(rec.states).toEqual(['Accepted']);
    h.transport.deliver(invite);
    expect(seen).toHaveLength(1);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 200]);
    expect(tx.respond(ok)).toBe(true); // TU retransmits the 2xx (§13.3.1.4)
    expect(tx.respond(reply(invite, 180, 'u1'))).toBe(false);
    expect(tx.respond(reply(invite, 500, 'u1'))).toBe(false);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 200, 200]);
  });

  it('Accepted: an ACK matching the transaction is passed to the TU (onAck with the transaction)', () => {
    const { h, tx, invite } = start();
    const ok = reply(invite, 200, 'u1');
    tx.respond(ok);
    h.transport.deliver(ackFor(invite, ok));
    expect(h.acks.map((a) => a.matched)).toEqual([true]);
    expect(tx.state).toBe('Accepted');
  });

  it('Timer L: Accepted lasts 64*T1 (UDP and TCP alike), then Terminated; a late INVITE retransmission is a new request', () => {
    for (const transport of ['udp', 'tcp'] as const) {
      const { h, tx, invite, seen } = start(transport);
      h.clock.advance(1000);
      tx.respond(reply(invite, 200, 'u1'));
      h.clock.advance(64 * T1 - 1);
      expect(tx.state).toBe('Accepted');
      h.clock.advance(1);
      expect(tx.state).toBe('Terminated');
      h.transport.deliver(invite, peer(transport));
      expect(seen).toHaveLength(2);
      seen[1]?.tx.respond(reply(invite, 500, 'u2'));
      h.transport.deliver(ackFor(invite, reply(invite, 500, 'u2')), peer(transport));
    }
  });

  it('300-699 from the TU → Completed; Timer G retransmits at T1, 2T1, 4T1, … capped at T2', () => {
    const { h, tx, invite } = start();
    tx.respond(reply(invite, 486, 'u1'));
    expect(tx.state).toBe('Completed');
    h.clock.advance(64 * T1 - 1);
    expect(h.transport.times(status(486))).toEqual([
      0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]);
  });

  it('Timer H fires at 64*T1 without an ACK: the TU is told, Terminated, retransmissions stop', () => {
    const { h, rec, tx, invite } = start();
    tx.respond(reply(invite, 486, 'u1'));
    h.clock.advance(64 * T1 - 1);
    expect(rec.timeouts).toBe(0);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(rec.states).toEqual(['Completed', 'Terminated']);
    const n = h.transport.responses(486).length;
    h.clock.advance(60_000);
    expect(h.transport.responses(486)).toHaveLength(n);
  });

  it('over TCP there is no Timer G, but Timer H still fires at 64*T1', () => {
    const { h, rec, tx, invite } = start('tcp');
    tx.respond(reply(invite, 486, 'u1'));
    h.clock.advance(64 * T1 - 1);
    expect(h.transport.responses(486)).toHaveLength(1);
    h.clock.advance(1);
    expect(rec.timeouts).toBe(1);
    expect(tx.state).toBe('Terminated');
  });

  it('INVITE retransmission in Completed resends the final response', () => {
    const { h, tx, invite } = start();
    const busy = reply(invite, 486, 'u1');
    tx.respond(busy);
    h.transport.deliver(invite);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 486, 486]);
    h.transport.deliver(ackFor(invite, busy));
  });

  it('ACK in Completed → Confirmed: Timer G and H stop; the ACK is not passed to the TU', () => {
    const { h, rec, tx, invite } = start();
    const busy = reply(invite, 486, 'u1');
    tx.respond(busy);
    h.clock.advance(600);
    h.transport.deliver(ackFor(invite, busy));
    expect(tx.state).toBe('Confirmed');
    expect(h.acks).toHaveLength(0);
    const n = h.transport.responses(486).length;
    h.clock.advance(T4 - 1);
    expect(h.transport.responses(486)).toHaveLength(n);
    expect(rec.timeouts).toBe(0);
  });

  it('Confirmed absorbs ACK and INVITE retransmissions; Timer I = T4 over UDP', () => {
    const { h, rec, tx, invite, seen } = start();
    const busy = reply(invite, 486, 'u1');
    tx.respond(busy);
    const ack = ackFor(invite, busy);
    h.transport.deliver(ack);
    h.transport.deliver(ack);
    h.transport.deliver(invite);
    expect(h.acks).toHaveLength(0);
    expect(seen).toHaveLength(1);
    expect(h.transport.responses(486)).toHaveLength(1);
    h.clock.advance(T4 - 1);
    expect(tx.state).toBe('Confirmed');
    h.clock.advance(1);
    expect(rec.states).toEqual(['Completed', 'Confirmed', 'Terminated']);
  });

  it('Timer I is 0 over TCP: Confirmed then Terminated at once', () => {
    const { h, rec, tx, invite } = start('tcp');
    const busy = reply(invite, 486, 'u1');
    tx.respond(busy);
    h.transport.deliver(ackFor(invite, busy), peer('tcp'));
    expect(rec.states).toEqual(['Completed', 'Confirmed', 'Terminated']);
    expect(h.layer.size()).toBe(0);
  });

  it('responses from the TU after the final response are discarded', () => {
    const { h, tx, invite } = start();
    const busy = reply(invite, 486, 'u1');
    expect(tx.respond(busy)).toBe(true);
    expect(tx.respond(reply(invite, 200, 'u1'))).toBe(false);
    expect(tx.respond(reply(invite, 180, 'u1'))).toBe(false);
    h.transport.deliver(ackFor(invite, busy));
    expect(tx.respond(reply(invite, 500, 'u1'))).toBe(false);
    expect(() => tx.respond({ ...busy, status: 99 })).toThrow(RangeError);
  });

  it('ACK in Proceeding is discarded (not part of the machine)', () => {
    const { h, tx, invite } = start();
    h.transport.deliver(ackFor(invite, reply(invite, 486, 'x')));
    expect(tx.state).toBe('Proceeding');
    expect(h.acks).toHaveLength(0);
    tx.respond(reply(invite, 486, 'x'));
  });

  it('transport error sending the 100 (sync) → Terminated, the TU never sees the request', () => {
    const h = harness();
    h.transport.failWith = () => 'throw';
    let seen = 0;
    h.layer.onRequest(() => {
      seen++;
    });
    h.transport.deliver(request());
    expect(seen).toBe(0);
    expect(h.layer.size()).toBe(0);
  });

  it('transport error sending a provisional in Proceeding → TU informed, Terminated', async () => {
    const { h, rec, tx, invite } = start();
    h.transport.failWith = () => 'reject';
    tx.respond(reply(invite, 180, 'u1'));
    await flush();
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Terminated');
  });

  it('transport error on a Timer G retransmission in Completed → TU informed, Terminated', () => {
    const { h, rec, tx, invite } = start();
    tx.respond(reply(invite, 486, 'u1'));
    h.transport.failWith = () => 'throw';
    h.clock.advance(T1);
    expect(rec.transportErrors).toHaveLength(1);
    expect(rec.timeouts).toBe(0);
    expect(tx.state).toBe('Terminated');
    expect(h.clock.pending()).toBe(0);
  });

  it('transport error sending a 2xx in Accepted → TU informed, stays Accepted until Timer L (RFC 6026)', () => {
    const { h, rec, tx, invite } = start();
    h.transport.failWith = () => 'throw';
    tx.respond(reply(invite, 200, 'u1'));
    expect(rec.transportErrors).toHaveLength(1);
    expect(tx.state).toBe('Accepted');
    h.clock.advance(64 * T1);
    expect(tx.state).toBe('Terminated');
  });

  it('Accepted keeps skeletons of the INVITE and of the 2xx (the To tag stays); Completed keeps the failure whole to resend it', () => {
    const names = (m: SipMessage) => m.headers.entries.map(([n]) => n);
    const { h, tx, invite } = start();
    const ok = reply(invite, 200, 'u1');
    ok.body = Buffer.from('v=0\r\n');
    ok.headers.add('Content-Type', 'application/sdp');
    tx.respond(ok);
    expect(names(tx.request)).toEqual(['Via', 'From', 'To', 'Call-ID', 'CSeq']);
    expect(tx.request.body.length).toBe(0);
    expect(tx.lastFinal && names(tx.lastFinal)).toEqual(['Via', 'From', 'To', 'Call-ID', 'CSeq']);
    expect(tx.lastFinal?.body.length).toBe(0);
    expect(tx.toTag).toBe('u1');
    expect(h.transport.responses().at(-1)?.body.toString()).toBe('v=0\r\n'); // sent whole
    h.clock.advance(64 * T1);

    const failed = start('udp', h);
    const busy = reply(failed.invite, 486, 'u2');
    busy.headers.add('Retry-After', '30');
    failed.tx.respond(busy);
    expect(names(failed.tx.request)).toEqual(['Via', 'From', 'To', 'Call-ID', 'CSeq']);
    expect(failed.tx.lastFinal).toBe(busy);
    h.transport.deliver(failed.invite);
    expect(h.transport.responses().at(-1)?.headers.get('Retry-After')).toBe('30');
    h.transport.deliver(ackFor(failed.invite, busy));
    h.clock.advance(T4);
  });
});
