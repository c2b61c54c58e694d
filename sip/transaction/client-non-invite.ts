/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
 *
 * ```
 *  Trying ──1xx──▶ Proceeding ──200-699──▶ Completed ──Timer K──▶ Terminated
 *    └──200-699──────────────────────────▲
 *  Trying/Proceeding ── Timer F / transport error ──▶ Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { Endpoint } from '../transport/types.ts';
import { TransactionBase, type TransactionContext } from './base.ts';
import type { ClientTransactionHandlers, ClientTransactionLike } from './client-invite.ts';

/** RFC 3261 §17.1.2 non-INVITE client transaction. */
export class ClientNonInviteTransaction extends TransactionBase implements ClientTransactionLike {
  override readonly kind = 'nict' as const;
  override handlers: ClientTransactionHandlers;
  declare state: 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
  /** Branch of the top Via (the transaction id, §17.1.3). */
  readonly branch: string;

  constructor(
    ctx: TransactionContext,
    key: string,
    branch: string,
    request: SipRequest,
    destination: Endpoint,
    reliable: boolean,
    handlers: ClientTransactionHandlers,
  ) {
    super(ctx, key, request, destination, reliable, 'Trying');
    this.branch = branch;
    this.handlers = handlers;
  }

  /**
   * Enters Trying (§17.1.2.2): passes the request to the transport, starts Timer F = 64*T1, and on
   * an unreliable transport Timer E = T1.
   */
  start(): void {
    if (!this.transmit(this.request)) return;
    const { T1 } = this.ctx.timers;
    this.armTimeout(64 * T1);
    if (!this.reliable) this.armRetransmit(T1);
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return; // Completed: absorb (§17.1.2.2)
    if (res.status < 200) {
      // §17.1.2.2: 1xx → Proceeding (Timer E keeps running; it is re-armed with T2 from now on).
      this.setState('Proceeding');
      this.handlers.onResponse(res, this);
      return;
    }
    // §17.1.2.2: 200–699 → Completed, pass to the TU, Timer K = T4 (unreliable) / 0 (reliable).
    this.clearTimers();
    this.setState('Completed');
    try {
      this.handlers.onResponse(res, this);
    } finally {
      if (this.inState('Completed')) this.terminateAfter(this.reliable ? 0 : this.ctx.timers.T4);
    }
  }

  /**
   * @internal Timer E (§17.1.2.2): retransmit; in Trying the next interval is min(2E, T2), in
   * Proceeding it is T2.
   */
  override onRetransmitTimer(): void {
    const { T2 } = this.ctx.timers;
    if (this.state === 'Trying') {
      if (this.retransmit(this.request) && this.inState('Trying'))
        this.armRetransmit(Math.min(2 * this.interval, T2));
    } else if (this.state === 'Proceeding') {
      if (this.retransmit(this.request) && this.inState('Proceeding')) this.armRetransmit(T2);
    }
  }

  /** @internal Timer F (§17.1.2.2): timeout in Trying or Proceeding. */
  override onTimeoutTimer(): void {
    if (this.state === 'Trying' || this.state === 'Proceeding') this.timedOut();
  }

  /** @internal Timer K (§17.1.2.2): Completed → Terminated. */
  override onWaitTimer(): void {
    if (this.state === 'Completed') this.terminate();
  }
}
