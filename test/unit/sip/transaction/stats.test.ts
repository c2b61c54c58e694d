/** TransactionLayer.stats(): transactions created by kind, retransmissions sent and received (monitoring). */
import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../../../../sip/message/types.ts';
import type { ServerTransaction } from '../../../../sip/transaction/transaction-layer.ts';
import { checkTablesEmptyAfterEach, harness, peer, recorder, reply, request, T1 } from './helpers.ts';

checkTablesEmptyAfterEach();

describe('Class: TransactionLayer — counters for monitoring', () => {
  it('counts created transactions by kind, the retransmissions it sends (timers A, E, G) and those it absorbs', () => {
    const h = harness();
    const seen: { tx: ServerTransaction; req: SipRequest }[] = [];
    h.layer.onRequest((tx, req) => {
      seen.push({ tx, req });
    });
    expect(h.layer.stats()).toEqual({
      created: { ict: 0, nict: 0, ist: 0, nist: 0 },
      retransmissionsSent: 0,
      retransmissionsReceived: 0,
    });

    // Client INVITE over UDP: Timer A retransmits at T1 and 3*T1 before the 180 arrives.
    const inv = request({ via: undefined });
    const ict = h.layer.createClientTransaction(inv, peer(), recorder().handlers);
    h.clock.advance(3 * T1);
    expect(h.layer.stats().retransmissionsSent).toBe(2);
    h.transport.deliver(reply(ict.request, 180, 'u'));
    h.transport.deliver(reply(ict.request, 200, 'u'));

    // Client OPTIONS: Timer E once, then the 200.
    const options = h.layer.createClientTransaction(
      request({ method: 'OPTIONS', via: undefined }),
      peer(),
      recorder().handlers,
    );
    h.clock.advance(T1);
    h.transport.deliver(reply(options.request, 200, 'u'));

    // Server INVITE answered 486: the INVITE retransmitted once (absorbed, the 486 resent), Timer G once.
    const serverInvite = request();
    h.transport.deliver(serverInvite);
    const first = seen[0];
    if (!first) throw new Error('no server transaction');
    first.tx.respond(reply(first.req, 486, 'x'));
    h.transport.deliver(serverInvite);
    h.clock.advance(T1);

    // Server OPTIONS.
    h.transport.deliver(request({ method: 'OPTIONS' }));
    const second = seen[1];
    second?.tx.respond(reply(second.req, 200, 'y'));

    expect(seen).toHaveLength(2);
    expect(h.layer.stats()).toEqual({
      created: { ict: 1, nict: 1, ist: 1, nist: 1 },
      retransmissionsSent: 2 + 1 + 1 + 1,
      retransmissionsReceived: 1,
    });
    h.clock.runAll();
  });
});
