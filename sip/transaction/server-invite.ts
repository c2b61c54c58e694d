/**
 * INVITE server transaction (RFC 3261 §17.2.1, Figure 7) with the RFC 6026 correction (§7.1,
 * Figure 7 of RFC 6026): a 2xx from the TU moves the transaction to "Accepted" for 64*T1 (Timer L)
 * instead of Terminated. In Accepted, INVITE retransmissions are absorbed (not mistaken for new
 * requests), further 2xx from the TU (its §13.3.1.4 retransmissions) are sent, and an ACK that
 * matches the transaction is passed to the TU.
 *
 * ```
 *  Proceeding ──300-699 from TU──▶ Completed ──ACK──▶ Confirmed ──Timer I──▶ Terminated
 *      │                              └── Timer H / transport error ──▶ Terminated
 *      └──2xx from TU──▶ Accepted ──Timer L──▶ Terminated
 * ```
 */
import { createResponse, toTag } from '../message/accessors.ts';
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { Endpoint } from '../transport/types.ts';
import {
  TransactionBase,
  type TransactionContext,
  type TransactionEvents,
  type TransactionState,
} from './base.ts';
import { skeletonOf } from './requests.ts';
import type { ServerNonInviteTransaction } from './server-non-invite.ts';

/** A server transaction of either kind (`tx.kind` tells which). */
export type ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction;

/** TU callbacks of a server transaction; set them on `tx.handlers` (all optional). */
export type ServerTransactionHandlers<T = ServerTransaction> = TransactionEvents<T>;

/** The common surface of both server transaction kinds. */
export interface ServerTransactionLike {
  readonly kind: 'ist' | 'nist';
  readonly state: TransactionState;
  readonly request: SipRequest;
  /** The request's source endpoint; responses are sent "to" it (the transport applies §18.2.2). */
  readonly peer: Endpoint;
  readonly reliable: boolean;
  /** The last provisional response sent, while no final response was sent (then cleared to save memory). */
  readonly lastProvisional: SipResponse | undefined;
  /** The final response sent, if any. */
  readonly lastFinal: SipResponse | undefined;
  /** Sends a response through the transaction; false when the state machine discards it. */
  respond(response: SipResponse): boolean;
}

const NO_HANDLERS: ServerTransactionHandlers<never> = Object.freeze({});

/** RFC 3261 §17.2.1 + RFC 6026 §7.1 INVITE server transaction. */
export class ServerInviteTransaction extends TransactionBase implements ServerTransactionLike {
  override readonly kind = 'ist' as const;
  override handlers: ServerTransactionHandlers = NO_HANDLERS;
  declare state: 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';
  lastProvisional: SipResponse | undefined = undefined;
  lastFinal: SipResponse | undefined = undefined;
  /** @internal RFC 2543 ACK-matching key (filed by the layer when the INVITE had no RFC 3261 branch). */
  ackKey: string | undefined = undefined;
  private readonly auto100: boolean;

  constructor(
    ctx: TransactionContext,
    key: string,
    request: SipRequest,
    source: Endpoint,
    reliable: boolean,
    auto100 = true,
  ) {
    super(ctx, key, request, source, reliable, 'Proceeding');
    this.auto100 = auto100;
  }

  /**
   * Enters Proceeding (§17.2.1). With `auto100` a 100 (Trying) is sent at once — the TU is not
   * known to answer within 200 ms — built per §8.2.6 without a To tag and with the Timestamp
   * copied (§8.2.6.1). The caller then passes the request to the TU.
   */
  start(): void {
    if (!this.auto100) return;
    const trying = createResponse(this.request, 100);
    this.lastProvisional = trying;
    this.transmit(trying);
  }

  /** The To tag of the most recent response sent (final, else provisional), if any. */
  get toTag(): string | undefined {
    const r = this.lastFinal ?? this.lastProvisional;
    return r === undefined ? undefined : toTag(r);
  }

  /** A retransmission of the INVITE (matched by §17.2.3). */
  receiveRequest(): void {
    switch (this.state) {
      case 'Proceeding':
        // §17.2.1: resend the most recent provisional response.
        if (this.lastProvisional !== undefined) this.retransmit(this.lastProvisional);
        return;
      case 'Completed':
        // §17.2.1: resend the final response.
        if (this.lastFinal !== undefined) this.retransmit(this.lastFinal);
        return;
      default:
        // Confirmed: absorbed. Accepted: absorbed, not passed to the TU (RFC 6026 §7.1).
        return;
    }
  }

  /**
   * An ACK matched to this transaction. Returns true when the ACK must be passed to the TU (RFC
   * 6026 §7.1: in Accepted), false when the transaction consumed or discarded it.
   */
  receiveAck(): boolean {
    switch (this.state) {
      case 'Completed':
        // §17.2.1: ACK → Confirmed; Timer I = T4 (unreliable) / 0 (reliable); G and H stop.
        this.clearRetransmit();
        this.clearTimeoutTimer();
        this.setState('Confirmed');
        this.terminateAfter(this.reliable ? 0 : this.ctx.timers.T4);
        return false;
      case 'Accepted':
        return true;
      default:
        // Confirmed: absorb further ACKs (§17.2.1). Proceeding: not part of this machine; drop.
        return false;
    }
  }

  /**
   * A response from the TU (§17.2.1):
   * - Proceeding: 1xx is sent (remembered for request retransmissions); 2xx is sent and the
   *   transaction goes to Accepted with Timer L = 64*T1 (RFC 6026 §7.1); 300–699 is sent and the
   *   transaction goes to Completed with Timer G = T1 (unreliable only) and Timer H = 64*T1.
   * - Accepted: further 2xx are sent (RFC 6026 §7.1: the TU retransmits the 2xx, §13.3.1.4).
   * - otherwise discarded (returns false).
   * Throws RangeError for a status outside 100–699.
   */
  respond(res: SipResponse): boolean {
    const code = res.status;
    if (!Number.isInteger(code) || code < 100 || code > 699) throw new RangeError(`invalid status ${code}`);
    switch (this.state) {
      case 'Proceeding': {
        if (code < 200) {
          this.lastProvisional = res;
          this.transmit(res);
          return true;
        }
        const { T1 } = this.ctx.timers;
        this.lastFinal = res;
        this.lastProvisional = undefined; // no longer resent (§17.2.1)
        if (code < 300) {
          this.setState('Accepted');
          this.armWait(64 * T1);
          this.transmit(res);
          this.keepSkeletons();
          return true;
        }
        this.setState('Completed');
        if (this.transmit(res) && this.inState('Completed')) {
          if (!this.reliable) this.armRetransmit(T1);
          this.armTimeout(64 * T1);
        }
        if (!this.isTerminated()) this.keepSkeleton();
        return true;
      }
      case 'Accepted':
        if (code >= 200 && code < 300) {
          this.lastFinal = res;
          this.transmit(res);
          this.keepSkeletons();
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  /**
   * Accepted (RFC 6026 §7.1): the TU, not the transaction, retransmits a 2xx, so the transaction keeps
   * only skeletons of the INVITE and of the 2xx (whose To tag `toTag` reads). In Completed the final
   * response is kept whole: Timer G and INVITE retransmissions resend it (§17.2.1).
   */
  private keepSkeletons(): void {
    if (!this.inState('Accepted')) return;
    this.keepSkeleton();
    if (this.lastFinal !== undefined) this.lastFinal = skeletonOf(this.lastFinal);
  }

  /**
   * Transport error (§17.2.4): inform the TU and terminate — except in Accepted, where RFC 6026
   * §7.1 (Figure 7) only informs the TU and the transaction stays until Timer L fires.
   */
  override transportFailed(error: Error): void {
    if (this.state === 'Accepted') {
      this.handlers.onTransportError?.(error, this);
      return;
    }
    super.transportFailed(error);
  }

  /** @internal Timer G (§17.2.1): retransmit the final response, next interval min(2G, T2). */
  override onRetransmitTimer(): void {
    if (this.state !== 'Completed' || this.lastFinal === undefined) return;
    if (this.retransmit(this.lastFinal) && this.inState('Completed')) {
      this.armRetransmit(Math.min(2 * this.interval, this.ctx.timers.T2));
    }
  }

  /** @internal Timer H (§17.2.1): no ACK arrived → inform the TU (timeout), Terminated. */
  override onTimeoutTimer(): void {
    if (this.state === 'Completed') this.timedOut();
  }

  /** @internal Timer I (Confirmed, §17.2.1) and Timer L (Accepted, RFC 6026 §7.1) → Terminated. */
  override onWaitTimer(): void {
    if (this.state === 'Confirmed' || this.state === 'Accepted') this.terminate();
  }
}
