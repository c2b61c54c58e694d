/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
 *
 * ```
 *  Trying ──1xx from TU──▶ Proceeding ──200-699 from TU──▶ Completed ──Timer J──▶ Terminated
 *    └──200-699 from TU───────────────────────────────────▲
 *  Proceeding/Completed ── transport error ──▶ Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { Endpoint } from '../transport/types.ts';
import { TransactionBase, type TransactionContext } from './base.ts';
import type { ServerTransactionHandlers, ServerTransactionLike } from './server-invite.ts';

const NO_HANDLERS: ServerTransactionHandlers<never> = Object.freeze({});

/** RFC 3261 §17.2.2 non-INVITE server transaction. */
export class ServerNonInviteTransaction extends TransactionBase implements ServerTransactionLike {
  override readonly kind = 'nist' as const;
  override handlers: ServerTransactionHandlers = NO_HANDLERS;
  declare state: 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
  lastProvisional: SipResponse | undefined = undefined;
  lastFinal: SipResponse | undefined = undefined;

  constructor(
    ctx: TransactionContext,
    key: string,
    request: SipRequest,
    source: Endpoint,
    reliable: boolean,
  ) {
    super(ctx, key, request, source, reliable, 'Trying');
  }

  /** Enters Trying (§17.2.2); nothing is sent. Present for symmetry with the other machines. */
  start(): void {}

  /**
   * A retransmission of the request (§17.2.2): discarded in Trying; in Proceeding the most recent
   * provisional response is resent; in Completed the final response is resent.
   */
  receiveRequest(): void {
    if (this.state === 'Proceeding') {
      if (this.lastProvisional !== undefined) this.retransmit(this.lastProvisional);
    } else if (this.state === 'Completed') {
      if (this.lastFinal !== undefined) this.retransmit(this.lastFinal);
    }
  }

  /**
   * A response from the TU (§17.2.2): 1xx in Trying/Proceeding → Proceeding, sent; 200–699 in
   * Trying/Proceeding → Completed, sent, Timer J = 64*T1 (unreliable) / 0 (reliable). In
   * Completed every response is discarded (returns false). Throws RangeError for a status outside
   * 100–699.
   */
  respond(res: SipResponse): boolean {
    const code = res.status;
    if (!Number.isInteger(code) || code < 100 || code > 699) throw new RangeError(`invalid status ${code}`);
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return false;
    if (code < 200) {
      this.lastProvisional = res;
      this.setState('Proceeding');
      this.transmit(res);
      return true;
    }
    this.lastFinal = res;
    this.lastProvisional = undefined; // no longer resent (§17.2.2)
    this.setState('Completed');
    if (this.transmit(res) && this.inState('Completed')) {
      this.terminateAfter(this.reliable ? 0 : 64 * this.ctx.timers.T1);
    }
    // Completed only resends `lastFinal` (§17.2.2) for up to Timer J = 64*T1.
    if (!this.isTerminated()) this.keepSkeleton();
    return true;
  }

  /** No retransmit timer in this machine. */
  override onRetransmitTimer(): void {}

  /** No timeout timer in this machine. */
  override onTimeoutTimer(): void {}

  /** @internal Timer J (§17.2.2): Completed → Terminated. */
  override onWaitTimer(): void {
    if (this.state === 'Completed') this.terminate();
  }
}
