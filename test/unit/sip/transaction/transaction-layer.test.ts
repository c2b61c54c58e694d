import { describe, expect, it } from 'vitest';
import { cseqOf, toTag } from '../../../../sip/message/accessors.ts';
import type { SipRequest } from '../../../../sip/message/types.ts';
import { newBranch, newTag } from '../../../../sip/transaction/random.ts';
import { buildCancel } from '../../../../sip/transaction/requests.ts';
import type { ServerInviteTransaction } from '../../../../sip/transaction/server-invite.ts';
import type { ServerTransaction } from '../../../../sip/transaction/transaction-layer.ts';
import {
  ackFor,
  branch,
  branchOf,
  checkTablesEmptyAfterEach,
  type Harness,
  harness,
  peer,
  recorder,
  reply,
  request,
  T1,
} from './helpers.ts';

checkTablesEmptyAfterEach();

/** Collects every request handed to the TU. */
const collect = (h: Harness) => {
  const seen: { tx: ServerTransaction; req: SipRequest }[] = [];
  h.layer.onRequest((tx, req) => {
    seen.push({ tx, req });
  });
  return seen;
};

const ist = (tx: ServerTransaction | undefined): ServerInviteTransaction => {
  if (tx?.kind !== 'ist') throw new Error('expected an INVITE server transaction');
  return tx;
};

describe('Class: TransactionLayer — server matching (RFC 3261 §17.2.3)', () => {
  it('branch + sent-by + method: a retransmission matches, other sent-by or method creates a new transaction', () => {
    const h = harness();
    const seen = collect(h);
    const b = branch();
    const inv = request({ via: `SIP/2.0/UDP 192.0.2.20:5060;branch=${b}` });
    h.transport.deliver(inv);
    h.transport.deliver(
      request({ via: `SIP/2.0/UDP 192.0.2.20:5060;branch=${b}`, callId: inv.headers.get('Call-ID') }),
    );
    expect(seen).toHaveLength(1);
    // Same branch, another sent-by (port) → another transaction.
    h.transport.deliver(request({ via: `SIP/2.0/UDP 192.0.2.20:5070;branch=${b}` }));
    // Same branch, another method → another transaction.
    h.transport.deliver(request({ method: 'OPTIONS', via: `SIP/2.0/UDP 192.0.2.20:5060;branch=${b}` }));
    expect(seen).toHaveLength(3);
    expect(h.layer.counts().server).toBe(3);
    for (const { tx, req } of seen) tx.respond(reply(req, 200, 'u'));
  });

  it('branch comparison is case-insensitive (tokens, §7.3.1)', () => {
    const h = harness();
    const seen = collect(h);
    h.transport.deliver(request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKAbC' }));
    h.transport.deliver(request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKabc' }));
    expect(seen).toHaveLength(1);
    seen[0]?.tx.respond(reply(seen[0].req, 200, 'u'));
  });

  it('ACK with the INVITE branch matches the INVITE transaction; an ACK with a new branch (2xx ACK) goes to onAck', () => {
    const h = harness();
    const seen = collect(h);
    const inv = request();
    h.transport.deliver(inv);
    const tx = ist(seen[0]?.tx);
    const busy = reply(inv, 486, 'u1');
    tx.respond(busy);
    h.transport.deliver(ackFor(inv, busy));
    expect(tx.state).toBe('Confirmed');
    expect(h.acks).toHaveLength(0);
    // A 2xx ACK: its own branch (§13.2.2.4) → stray, for the dialog layer.
    h.transport.deliver(ackFor(inv, busy, { via: `SIP/2.0/UDP 192.0.2.20:5060;branch=${branch()}` }));
    expect(h.acks).toEqual([{ ack: expect.objectContaining({ method: 'ACK' }), matched: false }]);
  });

  it('CANCEL is a transaction of its own with the INVITE branch', () => {
    const h = harness();
    const seen = collect(h);
    const inv = request();
    h.transport.deliver(inv);
    h.transport.deliver(buildCancel(inv));
    expect(seen.map((s) => s.tx.kind)).toEqual(['ist', 'nist']);
    expect(seen[1]?.req.method).toBe('CANCEL');
    for (const { tx, req } of seen) tx.respond(reply(req, 200, 'u'));
  });

  it('requests without a parseable top Via are dropped (reported to onDropped)', () => {
    const h = harness();
    const seen = collect(h);
    h.transport.deliver(request({ via: null }));
    h.transport.deliver(request({ via: 'garbage' }));
    expect(seen).toHaveLength(0);
    expect(h.dropped).toHaveLength(2);
  });

  it('a TU that throws in onRequest: 500 sent, error reported, nothing leaks', () => {
    const h = harness();
    h.layer.onRequest(() => {
      throw new Error('TU bug');
    });
    h.transport.deliver(request({ method: 'OPTIONS' }));
    expect(h.transport.responses().map((r) => r.status)).toEqual([500]);
    expect(h.errors.map((e) => e.message)).toEqual(['TU bug']);
  });

  it('without an onRequest handler, requests get 500 (the transaction must still end)', () => {
    const h = harness();
    const inv = request();
    h.transport.deliver(inv);
    expect(h.transport.responses().map((r) => r.status)).toEqual([100, 500]);
    const r500 = h.transport.responses(500)[0];
    expect(r500 === undefined ? undefined : toTag(r500)).toMatch(/^[0-9a-f]{16}$/);
    if (r500) h.transport.deliver(ackFor(inv, r500));
  });
});

describe('Class: TransactionLayer — RFC 2543 fallback matching (§17.2.3)', () => {
  for (const [name, via] of [
    ['no branch', 'SIP/2.0/UDP 192.0.2.20:5060'],
    ['RFC 4475 badbranch (bare magic cookie)', 'SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK'],
    ['a branch without the magic cookie', 'SIP/2.0/UDP 192.0.2.20:5060;branch=1234abcd'],
  ] as const) {
    it(`${name}: INVITE retransmissions match on Request-URI, tags, Call-ID, CSeq and top Via`, () => {
      const h = harness();
      const seen = collect(h);
      const inv = request({ via, callId: 'c2543' });
      h.transport.deliver(inv);
      h.transport.deliver(request({ via, callId: 'c2543' }));
      expect(seen).toHaveLength(1);
      expect(h.transport.responses(100)).toHaveLength(2);
      // Any difference → another transaction.
      h.transport.deliver(request({ via, callId: 'other' }));
      h.transport.deliver(request({ via, callId: 'c2543', cseq: 2 }));
      h.transport.deliver(request({ via, callId: 'c2543', uri: 'sip:carol@example.com' }));
      h.transport.deliver(request({ via, callId: 'c2543', from: '<sip:alice@example.com>;tag=zz' }));
      expect(seen).toHaveLength(5);
      expect(h.layer.counts().rfc2543Ack).toBe(5);
      for (const s of seen) {
        const busy = reply(s.req, 486, `u${seen.indexOf(s)}`);
        s.tx.respond(busy);
        h.transport.deliver(ackFor(s.req, busy));
        expect(s.tx.state).toBe('Confirmed');
      }
    });
  }

  it('an RFC 2543 ACK matches only with the To tag of the response the transaction sent', () => {
    const h = harness();
    const seen = collect(h);
    const via = 'SIP/2.0/UDP 192.0.2.20:5060';
    const inv = request({ via });
    h.transport.deliver(inv);
    const tx = ist(seen[0]?.tx);
    const busy = reply(inv, 486, 'right');
    tx.respond(busy);
    h.transport.deliver(ackFor(inv, busy, { to: '<sip:bob@example.com>;tag=wrong' }));
    expect(tx.state).toBe('Completed');
    expect(h.acks.map((a) => a.matched)).toEqual([false]);
    h.transport.deliver(ackFor(inv, busy));
    expect(tx.state).toBe('Confirmed');
  });

  it('the received/rport parameters our transport stamps do not break RFC 2543 matching', () => {
    const h = harness();
    const seen = collect(h);
    h.transport.deliver(
      request({
        method: 'OPTIONS',
        via: 'SIP/2.0/UDP host.example;rport=5099;received=192.0.2.20',
        callId: 'x',
      }),
    );
    h.transport.deliver(
      request({
        method: 'OPTIONS',
        via: 'SIP/2.0/UDP host.example;rport=6000;received=192.0.2.21',
        callId: 'x',
      }),
    );
    expect(seen).toHaveLength(1);
    seen[0]?.tx.respond(reply(seen[0].req, 200, 'u'));
  });

  it('an RFC 2543 request without a parseable CSeq is dropped', () => {
    const h = harness();
    const seen = collect(h);
    const req = request({ via: 'SIP/2.0/UDP 192.0.2.20:5060' });
    req.headers.set('CSeq', 'not a cseq');
    h.transport.deliver(req);
    expect(seen).toHaveLength(0);
    expect(h.dropped).toHaveLength(1);
  });
});

describe('Class: TransactionLayer — client matching (§17.1.3) and stray responses', () => {
  it('responses match on branch + CSeq method: the CANCEL response does not reach the INVITE', () => {
    const h = harness();
    const inv = recorder();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), inv.handlers);
    h.transport.deliver(reply(tx.request, 180, 'b'));
    const can = recorder();
    h.layer.cancel(tx, can.handlers);
    const cancel = h.transport.requests('CANCEL')[0];
    if (cancel === undefined) throw new Error('no CANCEL');
    h.transport.deliver(reply(cancel, 200, 'b'));
    expect(can.responses).toEqual([200]);
    expect(inv.responses).toEqual([180]);
    h.transport.deliver(reply(tx.request, 487, 'b'));
    expect(inv.responses).toEqual([180, 487]);
  });

  it('responses matching no transaction go to onStrayResponse', () => {
    const h = harness();
    const other = request();
    h.transport.deliver(reply(other, 200, 'x'));
    const noVia = reply(other, 200, 'x');
    noVia.headers.remove('Via');
    h.transport.deliver(noVia);
    expect(h.stray.map((r) => r.status)).toEqual([200]);
    expect(h.dropped).toEqual(['response without a parseable top Via']);
  });

  it('a response whose CSeq method differs (same branch) is stray', () => {
    const h = harness();
    const rec = recorder();
    const tx = h.layer.createClientTransaction(
      request({ method: 'OPTIONS', via: null }),
      peer(),
      rec.handlers,
    );
    const wrong = reply(tx.request, 200, 'x');
    wrong.headers.set('CSeq', `${cseqOf(tx.request).seq} INVITE`);
    h.transport.deliver(wrong);
    expect(h.stray).toHaveLength(1);
    expect(rec.responses).toEqual([]);
    h.transport.deliver(reply(tx.request, 200, 'x'));
  });

  it('createClientTransaction keeps a given Via and refuses ACK, non-RFC 3261 branches and duplicates', () => {
    const h = harness();
    const b = newBranch();
    const req = request({ method: 'OPTIONS', via: `SIP/2.0/UDP 192.0.2.1:5060;branch=${b}` });
    const tx = h.layer.createClientTransaction(req, peer(), recorder().handlers);
    expect(tx.branch).toBe(b);
    expect(req.headers.getAll('Via')).toHaveLength(1);
    expect(() => h.layer.createClientTransaction(req, peer(), recorder().handlers)).toThrow(/already exists/);
    expect(() =>
      h.layer.createClientTransaction(request({ method: 'ACK', via: null }), peer(), recorder().handlers),
    ).toThrow(/ACK/);
    expect(() =>
      h.layer.createClientTransaction(
        request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK' }),
        peer(),
        recorder().handlers,
      ),
    ).toThrow(/z9hG4bK/);
    expect(() =>
      h.layer.createClientTransaction(
        request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.1' }),
        peer(),
        recorder().handlers,
      ),
    ).toThrow(/z9hG4bK/);
    expect(h.layer.size()).toBe(1);
    h.transport.deliver(reply(tx.request, 200, 'x'));
  });

  it('the Via added for TCP says TCP and requests go to the given destination', () => {
    const h = harness();
    const tx = h.layer.createClientTransaction(
      request({ method: 'OPTIONS', via: null }),
      peer('tcp'),
      recorder().handlers,
    );
    expect(tx.request.headers.get('Via')).toMatch(/^SIP\/2\.0\/TCP 192\.0\.2\.1:5060;branch=z9hG4bK/);
    expect(h.transport.sent[0]?.to).toEqual(peer('tcp'));
    h.transport.deliver(reply(tx.request, 200, 'x'), peer('tcp'));
  });
});

describe('Function: newBranch / newTag', () => {
  it('newBranch is z9hG4bK + 96 random bits (hex) and does not repeat', () => {
    const set = new Set<string>();
    for (let i = 0; i < 20_000; i++) set.add(newBranch());
    expect(set.size).toBe(20_000);
    for (const b of [...set].slice(0, 10)) expect(b).toMatch(/^z9hG4bK[0-9a-f]{24}$/);
  });

  it('newTag is 64 random bits (hex)', () => {
    expect(newTag()).toMatch(/^[0-9a-f]{16}$/);
    expect(newTag()).not.toBe(newTag());
  });
});

describe('Function: buildCancel (§9.1)', () => {
  it('copies Request-URI, Call-ID, To, From, CSeq number and Route; one Via = the INVITE top Via', () => {
    const inv = request({
      via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKlower',
      to: '<sip:bob@example.com>;tag=already',
      cseq: 314159,
      routes: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'],
      headers: [['Via', 'SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKthird']],
    });
    const c = buildCancel(inv);
    expect(c.method).toBe('CANCEL');
    expect(c.uri).toBe(inv.uri);
    expect(c.headers.getAll('Via')).toEqual(['SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop']);
    expect(c.headers.get('Call-ID')).toBe(inv.headers.get('Call-ID'));
    expect(c.headers.get('To')).toBe(inv.headers.get('To'));
    expect(c.headers.get('From')).toBe(inv.headers.get('From'));
    expect(cseqOf(c)).toEqual({ seq: 314159, method: 'CANCEL' });
    expect(c.headers.getAll('Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(c.headers.get('Max-Forwards')).toBe('70');
    expect(c.body.length).toBe(0);
  });
});

describe('Class: TransactionLayer — CANCEL, client side (§9.1)', () => {
  it('cancel() in Calling waits for a provisional response, then sends the CANCEL to the same destination', () => {
    const h = harness();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), recorder().handlers);
    expect(h.layer.cancel(tx)).toBe(true);
    expect(h.layer.cancel(tx)).toBe(true); // idempotent
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
    h.transport.deliver(reply(tx.request, 100));
    const cancels = h.transport.requests('CANCEL');
    expect(cancels).toHaveLength(1);
    expect(branchOf(cancels[0] ?? tx.request)).toBe(tx.branch);
    expect(h.transport.sent.at(-1)?.to).toEqual(peer());
    h.transport.deliver(reply(cancels[0] ?? tx.request, 200, 'b'));
    h.transport.deliver(reply(tx.request, 487, 'b'));
  });

  it('cancel() in Calling followed by a final response: no CANCEL is ever sent', () => {
    const h = harness();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), recorder().handlers);
    h.layer.cancel(tx);
    h.transport.deliver(reply(tx.request, 486, 'b'));
    h.clock.runAll();
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
  });

  it('cancel() after a final response or on a non-INVITE returns false', () => {
    const h = harness();
    const tx = h.layer.createClientTransaction(request({ via: null }), peer(), recorder().handlers);
    h.transport.deliver(reply(tx.request, 200, 'b'));
    expect(h.layer.cancel(tx)).toBe(false);
    const opt = h.layer.createClientTransaction(
      request({ method: 'OPTIONS', via: null }),
      peer(),
      recorder().handlers,
    );
    expect(h.layer.cancel(opt)).toBe(false);
    h.transport.deliver(reply(opt.request, 200, 'b'));
  });
});

describe('Class: TransactionLayer — CANCEL, server side (§9.2)', () => {
  const setup = (via?: string) => {
    const h = harness();
    const seen = collect(h);
    const inv = request(via === undefined ? {} : { via });
    h.transport.deliver(inv);
    const tx = ist(seen[0]?.tx);
    return { h, seen, inv, tx };
  };

  it('findInviteForCancel finds the INVITE; answerCancel sends 200 and 487 with the same To tag', () => {
    const { h, seen, inv, tx } = setup();
    tx.respond(reply(inv, 180, 'ring1'));
    h.transport.deliver(buildCancel(inv));
    const cancelTx = seen[1]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    expect(h.layer.findInviteForCancel(cancelTx.request)).toBe(tx);
    expect(h.layer.answerCancel(cancelTx)).toBe(tx);
    const r200 = h.transport.responses(200)[0];
    const r487 = h.transport.responses(487)[0];
    expect(r200 && cseqOf(r200).method).toBe('CANCEL');
    expect(r200 && toTag(r200)).toBe('ring1');
    expect(r487 && toTag(r487)).toBe('ring1');
    expect(r487 && cseqOf(r487).method).toBe('INVITE');
    expect(tx.state).toBe('Completed');
    if (r487) h.transport.deliver(ackFor(inv, r487));
    expect(tx.state).toBe('Confirmed');
  });

  it('answerCancel before any tagged response: one new tag for both the 200 and the 487', () => {
    const { h, seen, inv } = setup();
    h.transport.deliver(buildCancel(inv));
    const cancelTx = seen[1]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    h.layer.answerCancel(cancelTx);
    const t200 = h.transport.responses(200)[0];
    const t487 = h.transport.responses(487)[0];
    expect(t200 && toTag(t200)).toMatch(/^[0-9a-f]{16}$/);
    expect(t487 && toTag(t487)).toBe(t200 && toTag(t200));
    if (t487) h.transport.deliver(ackFor(inv, t487));
  });

  it('answerCancel when the INVITE already has a final response: 200 to the CANCEL, no 487', () => {
    const { h, seen, inv, tx } = setup();
    tx.respond(reply(inv, 200, 'ok1'));
    h.transport.deliver(buildCancel(inv));
    const cancelTx = seen[1]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    expect(h.layer.answerCancel(cancelTx)).toBe(tx);
    expect(h.transport.responses(487)).toHaveLength(0);
    expect(h.transport.responses(200).map((r) => cseqOf(r).method)).toEqual(['INVITE', 'CANCEL']);
  });

  it('answerCancel with reply487: false leaves the INVITE to the TU', () => {
    const { h, seen, inv, tx } = setup();
    h.transport.deliver(buildCancel(inv));
    const cancelTx = seen[1]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    h.layer.answerCancel(cancelTx, { reply487: false });
    expect(tx.state).toBe('Proceeding');
    tx.respond(reply(inv, 487, 'x'));
  });

  it('a CANCEL matching no INVITE gets 481', () => {
    const h = harness();
    const seen = collect(h);
    h.transport.deliver(buildCancel(request()));
    const cancelTx = seen[0]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    expect(h.layer.findInviteForCancel(cancelTx.request)).toBeUndefined();
    expect(h.layer.answerCancel(cancelTx)).toBeUndefined();
    expect(h.transport.responses().map((r) => r.status)).toEqual([481]);
  });

  it('RFC 2543 CANCEL (no branch) matches on Request-URI, To tag, From tag, Call-ID, CSeq number, top Via', () => {
    const via = 'SIP/2.0/UDP 192.0.2.20:5060';
    const { h, seen, inv, tx } = setup(via);
    const cancel = buildCancel(inv);
    h.transport.deliver(cancel);
    const cancelTx = seen[1]?.tx;
    if (cancelTx === undefined) throw new Error('no CANCEL transaction');
    expect(h.layer.findInviteForCancel(cancel)).toBe(tx);
    // A CANCEL for another CSeq number does not match.
    const other = buildCancel(request({ via, callId: inv.headers.get('Call-ID'), cseq: 7 }));
    expect(h.layer.findInviteForCancel(other)).toBeUndefined();
    h.layer.answerCancel(cancelTx);
    const r487 = h.transport.responses(487)[0];
    if (r487) h.transport.deliver(ackFor(inv, r487));
    expect(tx.state).toBe('Confirmed');
  });

  it('answerCancel refuses a non-CANCEL transaction', () => {
    const { h, inv, tx } = setup();
    expect(() => h.layer.answerCancel(tx)).toThrow(/CANCEL/);
    tx.respond(reply(inv, 480, 'x'));
  });
});

describe('Class: TransactionLayer — housekeeping', () => {
  it('shutdown() ends every transaction and clears every timer', () => {
    const h = harness();
    collect(h);
    h.layer.createClientTransaction(request({ via: null }), peer(), recorder().handlers);
    h.layer.createClientTransaction(request({ method: 'OPTIONS', via: null }), peer(), recorder().handlers);
    h.transport.deliver(request());
    h.transport.deliver(request({ via: 'SIP/2.0/UDP 192.0.2.20' }));
    expect(h.layer.counts()).toEqual({ client: 2, server: 2, rfc2543Ack: 1 });
    h.layer.shutdown();
    expect(h.layer.size()).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('size() counts live transactions and drops to 0 as they terminate', () => {
    const h = harness();
    const seen = collect(h);
    for (let i = 0; i < 50; i++) h.transport.deliver(request({ method: 'OPTIONS' }));
    for (let i = 0; i < 50; i++)
      h.layer.createClientTransaction(request({ method: 'OPTIONS', via: null }), peer(), recorder().handlers);
    expect(h.layer.size()).toBe(100);
    for (const s of seen) s.tx.respond(reply(s.req, 200, 'u'));
    for (const r of h.transport.requests('OPTIONS')) h.transport.deliver(reply(r, 200, 'u'));
    h.clock.advance(64 * T1);
    expect(h.layer.size()).toBe(0);
  });

  it('exceptions in timer-driven TU callbacks are reported, not thrown', () => {
    const h = harness();
    h.layer.createClientTransaction(request({ method: 'OPTIONS', via: null }), peer(), {
      onResponse: () => {},
      onTimeout: () => {
        throw new Error('timeout handler bug');
      },
    });
    h.clock.advance(64 * T1);
    expect(h.errors.map((e) => e.message)).toEqual(['timeout handler bug']);
    expect(h.layer.size()).toBe(0);
  });
});
