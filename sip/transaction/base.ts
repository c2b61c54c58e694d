/**
 * Shared machinery of the four transaction state machines (RFC 3261 §17): state, the three timer
 * slots, sending through the transport with error reporting (§17.1.4, §17.2.4), and termination.
 *
 * Each transaction holds at most three timer handles, one per role:
 * - retransmit: Timer A (§17.1.1.2), E (§17.1.2.2), G (§17.2.1) — re-armed from its own callback
 *   with the next interval, never an interval timer;
 * - timeout: Timer B, F, H (and the §9.1 64*T1 guard after a CANCEL);
 * - wait: Timer D, K, I, J, L, M (and, for a client INVITE in Calling/Proceeding, the optional
 *   Timer C of §16.6 step 11).
 * Timer callbacks are module-level functions receiving the transaction as argument, so arming a
 * timer allocates nothing but the timer itself.
 */
import type { SipMessage, SipRequest } from '../message/types.ts';
import type { Endpoint, SipTransportLayer } from '../transport/types.ts';
import { skeletonOf } from './requests.ts';
import type { Clock, ResolvedTimerConfig, TimerHandle } from './timers.ts';

/** Every state of the four machines (RFC 3261 Figures 5–8, RFC 6026 Figures 5 and 7). */
export type TransactionState =
  | 'Calling'
  | 'Trying'
  | 'Proceeding'
  | 'Completed'
  | 'Confirmed'
  | 'Accepted'
  | 'Terminated';

/** ict = client INVITE, nict = client non-INVITE, ist = server INVITE, nist = server non-INVITE. */
export type TransactionKind = 'ict' | 'nict' | 'ist' | 'nist';

/** What a transaction needs from its owner (normally the TransactionLayer). */
export interface TransactionContext {
  readonly clock: Clock;
  readonly timers: ResolvedTimerConfig;
  readonly transport: Pick<SipTransportLayer, 'send'>;
  /** Called exactly once when the transaction reaches Terminated (the owner removes it from its table). */
  terminated(tx: TransactionBase): void;
  /**
   * Receives exceptions thrown by TU callbacks run from a timer or from a failed asynchronous send
   * (where there is no caller to throw to). The transaction's state is consistent when it is called.
   */
  reportError(error: Error): void;
  /** Counts one retransmission the transaction sends (Timer A, E or G; monitoring). Optional. */
  retransmitted?(tx: TransactionBase): void;
}

/** Callbacks every transaction can report to its TU. All optional. */
export interface TransactionEvents<T> {
  /** Timer B/F/H fired (or the §9.1 CANCEL guard): the transaction failed with a timeout. */
  onTimeout?(tx: T): void;
  /** The transport could not send (RFC 3261 §17.1.4, §17.2.4). The transaction then terminates (except server INVITE in Accepted, RFC 6026 §7.1). */
  onTransportError?(error: Error, tx: T): void;
  /** The transaction reached Terminated and left the table. Called last. */
  onTerminated?(tx: T): void;
  /** Every state transition (for tracing and tests). */
  onStateChange?(tx: T, from: TransactionState, to: TransactionState): void;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

const fireRetransmit = (tx: TransactionBase): void => {
  tx.retransmitTimer = undefined;
  try {
    tx.onRetransmitTimer();
  } catch (e) {
    tx.reportError(e);
  }
};
const fireTimeout = (tx: TransactionBase): void => {
  tx.timeoutTimer = undefined;
  try {
    tx.onTimeoutTimer();
  } catch (e) {
    tx.reportError(e);
  }
};
const fireWait = (tx: TransactionBase): void => {
  tx.waitTimer = undefined;
  try {
    tx.onWaitTimer();
  } catch (e) {
    tx.reportError(e);
  }
};

/** Base class of the four state machines. Not used directly by TUs. */
export abstract class TransactionBase {
  abstract readonly kind: TransactionKind;
  abstract handlers: TransactionEvents<never>;
  /** Current state (RFC 3261 §17). */
  state: TransactionState;
  /** The key under which the owner files the transaction (§17.1.3 / §17.2.3). */
  readonly key: string;
  /**
   * The request that created the transaction; once the transaction only waits out its last timer,
   * its skeleton ({@link keepSkeleton}).
   */
  request: SipRequest;
  /** Client: where requests go. Server: the request's source (responses go there, §18.2.2). */
  readonly peer: Endpoint;
  /** Whether the transport is reliable (no retransmissions, zero wait timers; §17.1.1.2 ff.). */
  readonly reliable: boolean;
  /** @internal */ retransmitTimer: TimerHandle | undefined = undefined;
  /** @internal */ timeoutTimer: TimerHandle | undefined = undefined;
  /** @internal */ waitTimer: TimerHandle | undefined = undefined;
  /** Current retransmission interval (A, E, G). */
  protected interval = 0;
  protected readonly ctx: TransactionContext;

  constructor(
    ctx: TransactionContext,
    key: string,
    request: SipRequest,
    peer: Endpoint,
    reliable: boolean,
    initial: TransactionState,
  ) {
    this.ctx = ctx;
    this.key = key;
    this.request = request;
    this.peer = peer;
    this.reliable = reliable;
    this.state = initial;
  }

  /** True once the transaction reached Terminated. */
  isTerminated(): boolean {
    return this.state === 'Terminated';
  }

  /** State test that does not narrow `this.state` (callbacks may change it between two tests). */
  protected inState(s: TransactionState): boolean {
    return this.state === s;
  }

  /** @internal Retransmit timer (A/E/G) fired. */
  abstract onRetransmitTimer(): void;
  /** @internal Timeout timer (B/F/H) fired. */
  abstract onTimeoutTimer(): void;
  /** @internal Wait timer (D/K/I/J/L/M, or C) fired. */
  abstract onWaitTimer(): void;

  protected setState(to: TransactionState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    (this.handlers as TransactionEvents<TransactionBase>).onStateChange?.(this, from, to);
  }

  /**
   * Keeps only the skeleton of the request (requests.ts `skeletonOf`): called when the transaction
   * enters a state that only absorbs retransmissions until its last timer fires.
   */
  protected keepSkeleton(): void {
    this.request = skeletonOf(this.request);
  }

  /** Arms the retransmit timer with `ms` (and remembers it as the current interval). */
  protected armRetransmit(ms: number): void {
    this.interval = ms;
    this.retransmitTimer = this.ctx.clock.setTimeout(fireRetransmit, ms, this as TransactionBase);
  }

  protected armTimeout(ms: number): void {
    if (this.timeoutTimer !== undefined) this.ctx.clock.clearTimeout(this.timeoutTimer);
    this.timeoutTimer = this.ctx.clock.setTimeout(fireTimeout, ms, this as TransactionBase);
  }

  protected armWait(ms: number): void {
    if (this.waitTimer !== undefined) this.ctx.clock.clearTimeout(this.waitTimer);
    this.waitTimer = this.ctx.clock.setTimeout(fireWait, ms, this as TransactionBase);
  }

  protected clearRetransmit(): void {
    if (this.retransmitTimer !== undefined) {
      this.ctx.clock.clearTimeout(this.retransmitTimer);
      this.retransmitTimer = undefined;
    }
  }

  protected clearTimeoutTimer(): void {
    if (this.timeoutTimer !== undefined) {
      this.ctx.clock.clearTimeout(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
  }

  protected clearWait(): void {
    if (this.waitTimer !== undefined) {
      this.ctx.clock.clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }
  }

  protected clearTimers(): void {
    this.clearRetransmit();
    this.clearTimeoutTimer();
    this.clearWait();
  }

  /**
   * Passes a message to the transport. A synchronous throw or a rejected promise is a transport
   * error (§17.1.4, §17.2.4) handled by {@link transportFailed}. Returns false when the send failed
   * synchronously (the transaction may be Terminated by then).
   */
  protected transmit(m: SipMessage): boolean {
    let r: Promise<void> | void;
    try {
      r = this.ctx.transport.send(m, this.peer);
    } catch (e) {
      this.transportFailed(asError(e));
      return false;
    }
    if (r instanceof Promise) r.then(undefined, (e: unknown) => this.asyncTransportFailure(e));
    return true;
  }

  /** {@link transmit} of a retransmission (Timer A, E, G), counted by the owner. */
  protected retransmit(m: SipMessage): boolean {
    this.ctx.retransmitted?.(this);
    return this.transmit(m);
  }

  private asyncTransportFailure(e: unknown): void {
    try {
      this.transportFailed(asError(e));
    } catch (err) {
      this.reportError(err);
    }
  }

  /** @internal Hands an exception thrown by a TU callback to the owner (see TransactionContext.reportError). */
  reportError(e: unknown): void {
    this.ctx.reportError(asError(e));
  }

  /**
   * A transport error (RFC 3261 §17.1.4, §17.2.4): inform the TU and go to Terminated. Ignored
   * once Terminated (e.g. a late rejection of a send). Overridden by the server INVITE transaction
   * for RFC 6026's Accepted state.
   */
  transportFailed(error: Error): void {
    if (this.state === 'Terminated') return;
    this.clearTimers();
    try {
      (this.handlers as TransactionEvents<TransactionBase>).onTransportError?.(error, this);
    } finally {
      this.terminate();
    }
  }

  /** Informs the TU of a timeout (Timer B/F/H) and terminates. */
  protected timedOut(): void {
    if (this.state === 'Terminated') return;
    this.clearTimers();
    try {
      (this.handlers as TransactionEvents<TransactionBase>).onTimeout?.(this);
    } finally {
      this.terminate();
    }
  }

  /** Terminates after `ms` (a wait timer), or right now when `ms` is 0 (reliable transports). */
  protected terminateAfter(ms: number): void {
    if (ms <= 0) this.terminate();
    else this.armWait(ms);
  }

  /** Moves to Terminated: clears every timer, leaves the owner's table, calls onTerminated. Idempotent. */
  protected terminate(): void {
    if (this.state === 'Terminated') return;
    this.clearTimers();
    this.setState('Terminated');
    this.ctx.terminated(this);
    (this.handlers as TransactionEvents<TransactionBase>).onTerminated?.(this);
  }

  /**
   * Ends the transaction now without any TU notification except onStateChange/onTerminated (for
   * shutdown; not an RFC 3261 event). Timers are cleared and the owner's table updated.
   */
  destroy(): void {
    this.terminate();
  }
}
