/**
 * Two transaction layers talking through a simulated network (serialize → parse, 5 ms latency,
 * optional loss) on one FakeClock: full INVITE and non-INVITE exchanges, retransmissions under
 * loss, and random event sequences (fast-check) that must always end with empty tables.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createResponse } from '../../../../sip/message/accessors.ts';
import { parseMessage } from '../../../../sip/message/parser.ts';
import { serializeMessage } from '../../../../sip/message/serializer.ts';
import type { SipMessage, SipRequest } from '../../../../sip/message/types.ts';
import { newBranch, newTag } from '../../../../sip/transaction/random.ts';
import { FakeClock } from '../../../../sip/transaction/timers.ts';
import { type ServerTransaction, TransactionLayer } from '../../../../sip/transaction/transaction-layer.ts';
import type {
  Endpoint,
  InboundMessage,
  SipTransportLayer,
  TransportName,
} from '../../../../sip/transport/types.ts';
import { recorder, request } from './helpers.ts';

const LATENCY = 5;

class Network {
  readonly nodes = new Map<string, NetTransport>();
  /** Return true to lose the message. */
  drop: (m: SipMessage, from: Endpoint, to: Endpoint) => boolean = () => false;
  delivered = 0;
  constructor(readonly clock: FakeClock) {}
}

class NetTransport implements SipTransportLayer {
  private readonly handlers: ((m: InboundMessage) => void)[] = [];
  constructor(
    private readonly net: Network,
    readonly address: string,
    readonly kind: TransportName,
  ) {
    net.nodes.set(address, this);
  }

  send(m: SipMessage, to: Endpoint): void {
    const raw = serializeMessage(m);
    const from = this.local(this.kind);
    if (this.net.drop(m, from, to)) return;
    this.net.clock.setTimeout(() => {
      const dest = this.net.nodes.get(to.address);
      if (dest === undefined) return; // host gone: silence
      const parsed = parseMessage(raw, { transport: this.kind });
      if (!parsed.ok) throw new Error(parsed.error);
      this.net.delivered++;
      for (const h of dest.handlers) h({ message: parsed.message, source: from, raw });
    }, LATENCY);
  }

  reliable(t: TransportName): boolean {
    return t === 'tcp';
  }

  local(t: TransportName): Endpoint {
    return { transport: t, address: this.address, port: 5060 };
  }

  onMessage(cb: (m: InboundMessage) => void): void {
    this.handlers.push(cb);
  }

  onInvalid(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const pair = (kind: TransportName = 'udp') => {
  const clock = new FakeClock();
  const net = new Network(clock);
  const errors: Error[] = [];
  const uac = new TransactionLayer(new NetTransport(net, '10.0.0.1', kind), {
    clock,
    onError: (e) => errors.push(e),
  });
  const uas = new TransactionLayer(new NetTransport(net, '10.0.0.2', kind), {
    clock,
    onError: (e) => errors.push(e),
  });
  const uasDest: Endpoint = { transport: kind, address: '10.0.0.2', port: 5060 };
  return { clock, net, uac, uas, uasDest, errors };
};

const expectClean = (p: ReturnType<typeof pair>) => {
  p.clock.runAll();
  expect(p.uac.size()).toBe(0);
  expect(p.uas.size()).toBe(0);
  expect(p.uac.counts().rfc2543Ack + p.uas.counts().rfc2543Ack).toBe(0);
  expect(p.clock.pending()).toBe(0);
  expect(p.errors).toEqual([]);
};

/** The ACK for a 2xx, built by the UAC core (§13.2.2.4): a new branch, sent outside any transaction. */
const ack2xx = (invite: SipRequest, okTo: string, local: Endpoint): SipRequest => {
  const r = request({
    method: 'ACK',
    uri: invite.uri,
    via: `SIP/2.0/${local.transport.toUpperCase()} ${local.address}:${local.port};branch=${newBranch()}`,
    callId: invite.headers.get('Call-ID') ?? '',
    from: invite.headers.get('From') ?? '',
    to: okTo,
  });
  return r;
};

describe('End to end: two transaction layers over a simulated network', () => {
  for (const kind of ['udp', 'tcp'] as const) {
    it(`INVITE → 100/180/200 → ACK (TU) over ${kind}, 2xx retransmitted by the UAS TU until the ACK`, () => {
      const p = pair(kind);
      let ackSeen = 0;
      p.uas.onRequest((tx, req) => {
        const tag = newTag();
        tx.respond(createResponse(req, 180, undefined, { toTag: tag }));
        p.clock.setTimeout(() => {
          const ok = createResponse(req, 200, undefined, { toTag: tag });
          tx.respond(ok);
          // §13.3.1.4: the UAS core retransmits the 2xx until the ACK arrives (T1 doubling to T2).
          let interval = p.uas.timers.T1;
          const again = () => {
            if (ackSeen > 0 || tx.state !== 'Accepted') return;
            tx.respond(ok);
            interval = Math.min(interval * 2, p.uas.timers.T2);
            p.clock.setTimeout(again, interval);
          };
          if (!tx.reliable) p.clock.setTimeout(again, interval);
        }, 2000);
      });
      p.uas.onAck(() => {
        ackSeen++;
      });
      const rec = recorder();
      const invite = request({ via: null });
      let acked = 0;
      const tx = p.uac.createClientTransaction(invite, p.uasDest, {
        ...rec.handlers,
        onResponse: (r, t) => {
          rec.handlers.onResponse(r);
          if (r.status === 200) {
            acked++;
            (p.uac.transport as NetTransport).send(
              ack2xx(t.request, r.headers.get('To') ?? '', t.peer),
              t.peer,
            );
          }
        },
      });
      p.clock.advance(10_000);
      expect(rec.responses).toEqual([100, 180, 200]);
      expect(acked).toBe(1);
      expect(ackSeen).toBe(1);
      expect(tx.state).toBe('Accepted');
      expectClean(p);
    });
  }

  it('INVITE → 486 → ACK by the transaction; the UAS goes Completed → Confirmed', () => {
    const p = pair();
    const states: string[] = [];
    p.uas.onRequest((tx, req) => {
      tx.handlers = { onStateChange: (_t, _f, to) => states.push(to) };
      tx.respond(createResponse(req, 486, undefined, { toTag: newTag() }));
    });
    const rec = recorder();
    p.uac.createClientTransaction(request({ via: null }), p.uasDest, rec.handlers);
    p.clock.advance(100);
    expect(rec.responses).toEqual([100, 486]);
    expect(states).toEqual(['Completed', 'Confirmed']);
    expectClean(p);
  });

  it('under loss: the lost INVITE is retransmitted (Timer A), the lost 486 is retransmitted (Timer G)', () => {
    const p = pair();
    let invites = 0;
    let finals = 0;
    p.net.drop = (m) => {
      if (m.kind === 'request' && m.method === 'INVITE') return ++invites === 1;
      if (m.kind === 'response' && m.status === 486) return ++finals === 1;
      return false;
    };
    let tuSaw = 0;
    p.uas.onRequest((tx, req) => {
      tuSaw++;
      tx.respond(createResponse(req, 486, undefined, { toTag: newTag() }));
    });
    const rec = recorder();
    p.uac.createClientTransaction(request({ via: null }), p.uasDest, rec.handlers);
    p.clock.advance(3000);
    expect(tuSaw).toBe(1);
    expect(invites).toBe(2);
    expect(rec.responses).toEqual([100, 486]);
    expectClean(p);
  });

  it('CANCEL race: UAC cancels while ringing, UAS answers 200/487, everything terminates', () => {
    const p = pair();
    let cancelled: ServerTransaction | undefined;
    p.uas.onRequest((tx, req) => {
      if (req.method === 'CANCEL') {
        cancelled = p.uas.answerCancel(tx);
        return;
      }
      tx.respond(createResponse(req, 180, undefined, { toTag: newTag() }));
    });
    const rec = recorder();
    const cancelRec = recorder();
    const tx = p.uac.createClientTransaction(request({ via: null }), p.uasDest, rec.handlers);
    p.uac.cancel(tx, cancelRec.handlers);
    p.clock.advance(1000);
    expect(cancelled?.kind).toBe('ist');
    expect(rec.responses).toEqual([100, 180, 487]);
    expect(cancelRec.responses).toEqual([200]);
    expectClean(p);
  });

  it('random loss and TU behaviour never leave a transaction behind (property)', () => {
    const finals = [200, 202, 404, 486, 500, 603] as const;
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom<TransportName>('udp', 'tcp'),
          method: fc.constantFrom('INVITE', 'OPTIONS', 'MESSAGE'),
          lossPercent: fc.integer({ min: 0, max: 60 }),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
          provisional: fc.boolean(),
          delay: fc.integer({ min: 0, max: 200_000 }),
          status: fc.constantFrom(...finals),
          cancel: fc.boolean(),
          vanishAt: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
        }),
        (c) => {
          const p = pair(c.kind);
          let s = c.seed;
          const rnd = () => {
            s = (s * 48271) % 2147483647;
            return s / 2147483647;
          };
          let gone = false;
          p.net.drop = (_m, from, to) =>
            (gone && (from.address === '10.0.0.2' || to.address === '10.0.0.2')) ||
            (c.kind === 'udp' && rnd() * 100 < c.lossPercent);
          if (c.vanishAt !== undefined) {
            // The UAS host dies: its transactions vanish with it and nothing reaches it any more.
            p.clock.setTimeout(() => {
              gone = true;
              p.net.nodes.delete('10.0.0.2');
              p.uas.shutdown();
            }, c.vanishAt);
          }
          let acked = false;
          p.uas.onAck(() => {
            acked = true;
          });
          p.uas.onRequest((tx, req) => {
            if (req.method === 'CANCEL') {
              p.uas.answerCancel(tx);
              return;
            }
            const tag = newTag();
            if (c.provisional) tx.respond(createResponse(req, 180, undefined, { toTag: tag }));
            p.clock.setTimeout(() => {
              if (gone) return;
              const final = createResponse(req, c.status, undefined, { toTag: tag });
              tx.respond(final);
              // §13.3.1.4: a UAS core retransmits its 2xx to INVITE until the ACK (Accepted lasts 64*T1).
              if (tx.kind !== 'ist' || c.status >= 300 || tx.reliable) return;
              let interval = p.uas.timers.T1;
              const again = () => {
                if (acked || gone || tx.state !== 'Accepted') return;
                tx.respond(final);
                interval = Math.min(2 * interval, p.uas.timers.T2);
                p.clock.setTimeout(again, interval);
              };
              p.clock.setTimeout(again, interval);
            }, c.delay);
          });
          let finalsSeen = 0;
          // A B2BUA bounds ringing with Timer C (§16.6 step 11): without it a UAC whose peer vanished
          // after a provisional response would wait in Proceeding forever, as RFC 3261 specifies.
          const tx = p.uac.createClientTransaction(
            request({ method: c.method, via: null }),
            p.uasDest,
            {
              onResponse: (r, t) => {
                if (r.status >= 200) finalsSeen++;
                if (t.kind === 'ict' && r.status >= 200 && r.status < 300) {
                  p.uac.transport.send(ack2xx(t.request, r.headers.get('To') ?? '', t.peer), t.peer);
                }
              },
            },
            { timerC: true },
          );
          if (c.cancel) p.clock.setTimeout(() => p.uac.cancel(tx), 100);
          p.clock.runAll();
          expect(p.uac.size()).toBe(0);
          expect(p.uas.size()).toBe(0);
          expect(p.clock.pending()).toBe(0);
          expect(p.errors).toEqual([]);
          // A non-2xx final response, or the final response of a non-INVITE, reaches the TU at most once.
          if (c.method !== 'INVITE' || c.status >= 300) expect(finalsSeen).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 400 },
    );
  });
});
