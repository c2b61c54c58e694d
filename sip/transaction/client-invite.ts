/**
 * INVITE client transaction (RFC 3261 §17.1.1, Figure 5) with the RFC 6026 correction (§8.4,
 * Figure 5 of RFC 6026): a 2xx moves the transaction to "Accepted" (instead of Terminated) for
 * 64*T1 (Timer M), during which further 2xx responses are passed to the TU — the TU sends the ACK
 * for every 2xx (§13.2.2.4) — so they are not mistaken for stray responses.
 *
 * ```
 *  Calling ──1xx──▶ Proceeding ──300-699──▶ Completed ──Timer D──▶ Terminated
 *     │  ╲──2xx──────────┴──2xx──▶ Accepted ──Timer M──▶ Terminated
 *     └─ Timer B / transport error ──▶ Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { Endpoint } from '../transport/types.ts';
import {
  TransactionBase,
  type TransactionContext,
  type TransactionEvents,
  type TransactionState,
} from './base.ts';
import type { ClientNonInviteTransaction } from './client-non-invite.ts';
import { buildAckForFailure } from './requests.ts';

/** A client transaction of either kind (`tx.kind` tells which). */
export type ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction;

/** TU callbacks of a client transaction (INVITE or non-INVITE). */
export interface ClientTransactionHandlers<T = ClientTransaction> extends TransactionEvents<T> {
  /**
   * A response for the TU: provisional and final responses (§17.1.1.2, §17.1.2.2) and, for an
   * INVITE in Accepted, every retransmitted or additional 2xx (RFC 6026 §8.4). Retransmissions of a
   * non-2xx final response are absorbed and not passed up.
   */
  onResponse(response: SipResponse, tx: T): void;
}

/** The common surface of both client transaction kinds. */
export interface ClientTransactionLike {
  readonly kind: 'ict' | 'nict';
  readonly state: TransactionState;
  readonly request: SipRequest;
  readonly peer: Endpoint;
  readonly reliable: boolean;
  readonly branch: string;
}

/** Hooks the TransactionLayer gives a client INVITE transaction for CANCEL handling (§9.1, §16.8). */
export interface ClientInviteContext extends TransactionContext {
  /** Sends the CANCEL for `tx` now (it is in Proceeding). */
  sendCancel(tx: ClientInviteTransaction): void;
}

/** Options of a client INVITE transaction. */
export interface ClientInviteOptions {
  /**
   * Run Timer C (RFC 3261 §16.6 step 11, §16.8): started with the transaction, reset by every
   * provisional response; when it fires in Proceeding a CANCEL is sent, in Calling the transaction
   * times out (as if a 408 had been received). For proxies / B2BUAs that must bound ringing time.
   * Default false.
   */
  timerC?: boolean;
}

/** RFC 3261 §17.1.1 + RFC 6026 §8.4 client INVITE transaction. */
export class ClientInviteTransaction extends TransactionBase implements ClientTransactionLike {
  override readonly kind = 'ict' as const;
  override handlers: ClientTransactionHandlers;
  declare state: 'Calling' | 'Proceeding' | 'Completed' | 'Accepted' | 'Terminated';
  /** Branch of the top Via (the transaction id, §17.1.3). */
  readonly branch: string;
  /** The ACK sent for a 300–699 response (§17.1.1.3), retransmitted for each retransmission of it. */
  ack: SipRequest | undefined = undefined;
  /** §9.1: a CANCEL was asked for before any provisional response; send it when one arrives. */
  cancelPending = false;
  /** A CANCEL was sent for this transaction. */
  cancelSent = false;
  /** @internal TU callbacks for the CANCEL's own client transaction (set by TransactionLayer.cancel). */
  cancelHandlers: ClientTransactionHandlers | undefined = undefined;
  private readonly timerC: boolean;

  constructor(
    ctx: ClientInviteContext,
    key: string,
    branch: string,
    request: SipRequest,
    destination: Endpoint,
    reliable: boolean,
    handlers: ClientTransactionHandlers,
    opts: ClientInviteOptions = {},
  ) {
    super(ctx, key, request, destination, reliable, 'Calling');
    this.branch = branch;
    this.handlers = handlers;
    this.timerC = opts.timerC === true;
  }

  /**
   * Enters Calling (§17.1.1.2): passes the INVITE to the transport, starts Timer A = T1 on an
   * unreliable transport only, and Timer B = 64*T1 on any transport (plus Timer C when enabled).
   */
  start(): void {
    if (!this.transmit(this.request)) return;
    const { T1, timerC } = this.ctx.timers;
    if (!this.reliable) this.armRetransmit(T1);
    this.armTimeout(64 * T1);
    if (this.timerC) this.armWait(timerC);
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const code = res.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (code < 200) {
          // §17.1.1.2: 1xx in Calling → Proceeding (Timers A and B stop mattering: A is only for
          // Calling, B only fires in Calling); 1xx in Proceeding → to the TU.
          if (this.state === 'Calling') {
            this.clearRetransmit();
            if (!this.cancelSent) this.clearTimeoutTimer();
            this.setState('Proceeding');
          }
          if (this.timerC) this.armWait(this.ctx.timers.timerC); // §16.7 step 2: reset Timer C
          try {
            this.handlers.onResponse(res, this);
          } finally {
            if (this.cancelPending && this.inState('Proceeding')) {
              this.cancelPending = false;
              (this.ctx as ClientInviteContext).sendCancel(this);
            }
          }
        } else if (code < 300) {
          // RFC 6026 §8.4: 2xx → Accepted, start Timer M = 64*T1, pass the 2xx to the TU.
          this.clearTimers();
          this.cancelPending = false;
          this.setState('Accepted');
          this.armWait(64 * this.ctx.timers.T1);
          try {
            this.handlers.onResponse(res, this);
          } finally {
            if (this.inState('Accepted')) this.keepSkeleton();
          }
        } else {
          // §17.1.1.2: 300–699 → Completed, pass to the TU, send the ACK (§17.1.1.3), Timer D.
          this.clearTimers();
          this.cancelPending = false;
          this.setState('Completed');
          try {
            this.handlers.onResponse(res, this);
          } finally {
            if (this.inState('Completed')) {
              this.ack = buildAckForFailure(this.request, res);
              this.keepSkeleton();
              if (this.transmit(this.ack)) this.terminateAfter(this.reliable ? 0 : this.ctx.timers.timerD);
            }
          }
        }
        return;
      case 'Completed':
        // §17.1.1.2: retransmissions of the final response → resend the ACK, not passed up.
        if (code >= 300 && this.ack !== undefined) this.transmit(this.ack);
        return;
      case 'Accepted':
        // RFC 6026 §8.4: any 2xx is passed to the TU; anything else is absorbed.
        if (code >= 200 && code < 300) this.handlers.onResponse(res, this);
        return;
      default:
        return;
    }
  }

  /**
   * §9.1 guard: once a CANCEL was sent, if no final response arrives within 64*T1 the transaction
   * is considered cancelled and destroyed (reported as a timeout). Called by the layer.
   */
  armCancelGuard(): void {
    this.cancelSent = true;
    this.armTimeout(64 * this.ctx.timers.T1);
  }

  /** @internal Timer A (§17.1.1.2): retransmit, double the interval (no cap for INVITE). */
  override onRetransmitTimer(): void {
    if (this.state !== 'Calling') return;
    if (this.retransmit(this.request) && this.inState('Calling')) this.armRetransmit(this.interval * 2);
  }

  /** @internal Timer B in Calling (§17.1.1.2), or the §9.1 CANCEL guard in Proceeding: timeout. */
  override onTimeoutTimer(): void {
    if (this.state === 'Calling' || this.state === 'Proceeding') this.timedOut();
  }

  /** @internal Timer D (Completed), Timer M (Accepted), Timer C (Calling/Proceeding). */
  override onWaitTimer(): void {
    switch (this.state) {
      case 'Completed':
      case 'Accepted':
        this.terminate();
        return;
      case 'Proceeding':
        // §16.8: Timer C fired after a provisional response → CANCEL.
        if (!this.cancelSent) (this.ctx as ClientInviteContext).sendCancel(this);
        return;
      case 'Calling':
        // §16.8: no provisional yet → behave as if a 408 had been received: report a timeout.
        this.timedOut();
        return;
      default:
        return;
    }
  }
}
