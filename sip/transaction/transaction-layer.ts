/**
 * The SIP transaction layer (RFC 3261 §17) on top of a {@link SipTransportLayer}.
 *
 * - Inbound requests are matched to server transactions (§17.2.3, with the RFC 2543 fallback);
 *   a retransmission goes to its transaction, a new request creates one and is handed to the TU
 *   through `onRequest`. An ACK goes to the INVITE transaction it matches; an ACK matching none
 *   (the ACK for a 2xx, §13.2.2.4, has a branch of its own) or matching one in RFC 6026's Accepted
 *   state goes to the TU through `onAck`.
 * - Inbound responses are matched to client transactions (§17.1.3); responses matching none go to
 *   `onStrayResponse` (RFC 6026 §7.2 / §8.4: the TU core handles 2xx retransmissions for ACK
 *   re-sending; a proxy would forward them statelessly).
 * - The table holds every live transaction and nothing else: a transaction leaves it the moment
 *   it reaches Terminated. `size()` is for monitoring.
 * - CANCEL (§9): `buildCancel`/`cancel()` on the client side; `findInviteForCancel` and
 *   `answerCancel` on the server side.
 */
import { createResponse, topVia, toTag, viaBranch } from '../message/accessors.ts';
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { Endpoint, InboundMessage, SipTransportLayer, TransportName } from '../transport/types.ts';
import type { TransactionBase, TransactionKind } from './base.ts';
import {
  type ClientInviteContext,
  type ClientInviteOptions,
  ClientInviteTransaction,
  type ClientTransaction,
  type ClientTransactionHandlers,
} from './client-invite.ts';
import { ClientNonInviteTransaction } from './client-non-invite.ts';
import { clientKey, inviteKeyForCancel, isRfc3261Branch, type ServerKeys, serverKeysOf } from './matching.ts';
import { newBranch, newTag } from './random.ts';
import { buildCancel } from './requests.ts';
import { ServerInviteTransaction, type ServerTransaction } from './server-invite.ts';
import { ServerNonInviteTransaction } from './server-non-invite.ts';
import {
  type Clock,
  type ResolvedTimerConfig,
  realClock,
  resolveTimers,
  type TimerConfig,
} from './timers.ts';

export type { ClientTransaction } from './client-invite.ts';
export type { ServerTransaction } from './server-invite.ts';

/** New request for the TU: the server transaction was created and is in Proceeding (INVITE) or Trying. */
export type RequestHandler = (tx: ServerTransaction, request: SipRequest, inbound: InboundMessage) => void;
/** A response that matched no client transaction (§17.1.3). */
export type StrayResponseHandler = (response: SipResponse, inbound: InboundMessage) => void;
/**
 * An ACK for the TU: one matching no server transaction (normally the ACK for a 2xx, §13.2.2.4 /
 * §17.1.1.3), or one matching an INVITE transaction in Accepted (RFC 6026 §7.1; `tx` is set).
 */
export type AckHandler = (
  ack: SipRequest,
  inbound: InboundMessage,
  tx: ServerInviteTransaction | undefined,
) => void;

/** Options of {@link TransactionLayer}. */
export interface TransactionLayerOptions {
  /** Time source (default {@link realClock}; tests pass a FakeClock). */
  clock?: Clock;
  /** T1/T2/T4/Timer C/Timer D overrides (RFC 3261 Table 4 defaults). */
  timers?: Partial<TimerConfig>;
  /** Send 100 (Trying) as soon as an INVITE server transaction is created (§17.2.1). Default true. */
  auto100?: boolean;
  /**
   * Default of `ClientInviteOptions.timerC` for every client INVITE (default false, as RFC 3261
   * has Timer C for proxies only). A B2BUA should turn it on: without it, a client INVITE whose
   * peer vanished after a provisional response stays in Proceeding (RFC 3261 has no timer there).
   */
  inviteTimerC?: boolean;
  /** Subscribe to `transport.onMessage` (default true). With false, feed messages to `receive()`. */
  attach?: boolean;
  /** Messages dropped because they cannot be matched (no parseable top Via / CSeq). */
  onDropped?: (inbound: InboundMessage, reason: string) => void;
  /**
   * Exceptions thrown by TU callbacks (onRequest, onResponse, onTimeout, …). The layer keeps its
   * state consistent and carries on. Default: `console.error`.
   */
  onError?: (error: Error) => void;
}

/** Transaction counts, for monitoring and leak tests. */
export interface TransactionCounts {
  client: number;
  server: number;
  /** RFC 2543 ACK-matching entries (one per live RFC 2543 INVITE server transaction). */
  rfc2543Ack: number;
}

/**
 * Cumulative counters since the layer was created, for monitoring (the edge turns them into per-minute
 * metrics by difference).
 */
export interface TransactionStats {
  /** Transactions created, by kind (ict/nict: client INVITE/non-INVITE; ist/nist: server). */
  created: Record<TransactionKind, number>;
  /** Retransmissions sent: requests (Timer A, E), final responses (Timer G), responses resent on a retransmitted request. */
  retransmissionsSent: number;
  /** Retransmitted requests received and absorbed by their server transaction (never passed to the TU). */
  retransmissionsReceived: number;
}

const NO_CLIENT_HANDLERS: ClientTransactionHandlers = Object.freeze({
  onResponse: () => {},
});

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** The transaction layer. One per transport layer. */
export class TransactionLayer {
  readonly transport: SipTransportLayer;
  readonly clock: Clock;
  readonly timers: ResolvedTimerConfig;
  private readonly auto100: boolean;
  private readonly inviteTimerC: boolean;
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly acks2543 = new Map<string, ServerInviteTransaction>();
  private readonly ctx: ClientInviteContext;
  private requestHandler: RequestHandler | undefined;
  private strayHandler: StrayResponseHandler | undefined;
  private ackHandler: AckHandler | undefined;
  private readonly dropped: TransactionLayerOptions['onDropped'];
  private readonly errorHandler: (error: Error) => void;
  private readonly counters: TransactionStats = {
    created: { ict: 0, nict: 0, ist: 0, nist: 0 },
    retransmissionsSent: 0,
    retransmissionsReceived: 0,
  };

  constructor(transport: SipTransportLayer, opts: TransactionLayerOptions = {}) {
    this.transport = transport;
    this.clock = opts.clock ?? realClock;
    this.timers = resolveTimers(opts.timers);
    this.auto100 = opts.auto100 ?? true;
    this.inviteTimerC = opts.inviteTimerC ?? false;
    this.dropped = opts.onDropped;
    this.errorHandler =
      opts.onError ?? ((e: Error) => console.error('[sip/transaction] exception in a TU callback:', e));
    this.ctx = {
      clock: this.clock,
      timers: this.timers,
      transport,
      terminated: (tx) => this.remove(tx),
      reportError: (e) => this.reportError(e),
      sendCancel: (tx) => this.sendCancel(tx),
      retransmitted: () => {
        this.counters.retransmissionsSent++;
      },
    };
    if (opts.attach !== false) transport.onMessage((m) => this.receive(m));
  }

  /** Registers the TU's handler for new requests (one handler; a later call replaces it). */
  onRequest(cb: RequestHandler): void {
    this.requestHandler = cb;
  }

  /** Registers the handler for responses matching no client transaction. */
  onStrayResponse(cb: StrayResponseHandler): void {
    this.strayHandler = cb;
  }

  /** Registers the handler for ACKs the TU must see (2xx ACKs; RFC 6026 Accepted). */
  onAck(cb: AckHandler): void {
    this.ackHandler = cb;
  }

  /** Live transactions (client + server). Every terminated transaction has left the table. */
  size(): number {
    return this.clients.size + this.servers.size;
  }

  /** Live transactions by side. */
  counts(): TransactionCounts {
    return { client: this.clients.size, server: this.servers.size, rfc2543Ack: this.acks2543.size };
  }

  /** Cumulative counters (a copy): transactions created by kind, retransmissions sent and received. */
  stats(): TransactionStats {
    return { ...this.counters, created: { ...this.counters.created } };
  }

  /**
   * Starts a client transaction (§17.1.1 for INVITE, §17.1.2 otherwise) sending `request` to
   * `destination`. When the request has no Via, one is added with this transport's local address
   * and a new branch (§8.1.1.7); an existing top Via must carry an RFC 3261 branch (use
   * {@link newBranch}). ACK is refused: the ACK for a 2xx is sent by the TU directly through the
   * transport (§13.2.2.4, §17.1.1.3), the ACK for a non-2xx by the transaction itself.
   *
   * The request is sent before this returns; a synchronous transport failure is reported through
   * `handlers.onTransportError` before this returns (the returned transaction is then Terminated).
   */
  createClientTransaction(
    request: SipRequest,
    destination: Endpoint,
    handlers: ClientTransactionHandlers,
    opts: ClientInviteOptions = {},
  ): ClientTransaction {
    if (request.method === 'ACK') {
      throw new Error('ACK is not sent through a client transaction (RFC 3261 §17.1.1.3, §13.2.2.4)');
    }
    if (!request.headers.has('Via')) request.headers.prepend('Via', this.localVia(destination.transport));
    const via = topVia(request);
    if (via === undefined) throw new Error('request has no parseable top Via');
    const branch = viaBranch(via);
    if (!isRfc3261Branch(branch)) {
      throw new Error('the top Via branch must start with "z9hG4bK" and be unique (RFC 3261 §8.1.1.7)');
    }
    const key = clientKey(branch, request.method);
    if (this.clients.has(key)) throw new Error(`a client transaction with branch ${branch} already exists`);
    const reliable = this.transport.reliable(destination.transport);
    const tx =
      request.method === 'INVITE'
        ? new ClientInviteTransaction(this.ctx, key, branch, request, destination, reliable, handlers, {
            timerC: opts.timerC ?? this.inviteTimerC,
          })
        : new ClientNonInviteTransaction(this.ctx, key, branch, request, destination, reliable, handlers);
    this.clients.set(key, tx);
    this.counters.created[tx.kind]++;
    tx.start();
    return tx;
  }

  /**
   * Cancels a pending INVITE (RFC 3261 §9.1). In Proceeding the CANCEL is sent now; in Calling it
   * is sent when the first provisional response arrives (§9.1: not before); after a final response
   * nothing is sent. Once sent, the INVITE transaction is destroyed (reported as a timeout) if no
   * final response arrives within 64*T1 (§9.1). `handlers` receive the CANCEL's own responses.
   * Returns true when a CANCEL was or will be sent.
   */
  cancel(tx: ClientTransaction, handlers?: ClientTransactionHandlers): boolean {
    if (tx.kind !== 'ict') return false;
    if (tx.cancelSent || tx.cancelPending) return true;
    if (handlers !== undefined) tx.cancelHandlers = handlers;
    if (tx.state === 'Calling') {
      tx.cancelPending = true;
      return true;
    }
    if (tx.state === 'Proceeding') {
      this.sendCancel(tx);
      return true;
    }
    return false;
  }

  /**
   * The INVITE server transaction a CANCEL matches (RFC 3261 §9.2: §17.2.3 matching as if the
   * CANCEL were the INVITE), whatever its state; undefined when none matches (answer 481).
   */
  findInviteForCancel(cancel: SipRequest): ServerInviteTransaction | undefined {
    const via = topVia(cancel);
    if (via === undefined) return undefined;
    let key: string;
    try {
      key = inviteKeyForCancel(cancel, via);
    } catch {
      return undefined;
    }
    const tx = this.servers.get(key);
    return tx?.kind === 'ist' ? tx : undefined;
  }

  /**
   * Answers a CANCEL server transaction per RFC 3261 §9.2: 481 when no INVITE transaction matches;
   * otherwise 200 with the To tag of the INVITE's response (a new tag when none was sent yet), and —
   * unless `reply487: false` — 487 (Request Terminated) to the INVITE if it has no final response
   * yet, with the same To tag. Returns the INVITE transaction (so the TU can stop its work), or
   * undefined after a 481.
   */
  answerCancel(
    cancelTx: ServerTransaction,
    opts: { reply487?: boolean } = {},
  ): ServerInviteTransaction | undefined {
    const cancel = cancelTx.request;
    if (cancel.method !== 'CANCEL') throw new Error('answerCancel needs the server transaction of a CANCEL');
    const invite = this.findInviteForCancel(cancel);
    if (invite === undefined) {
      cancelTx.respond(createResponse(cancel, 481, undefined, { toTag: newTag() }));
      return undefined;
    }
    const tag = invite.toTag ?? newTag();
    cancelTx.respond(createResponse(cancel, 200, undefined, { toTag: tag }));
    if (opts.reply487 !== false && invite.state === 'Proceeding') {
      invite.respond(createResponse(invite.request, 487, undefined, { toTag: tag }));
    }
    return invite;
  }

  /**
   * Feeds one inbound message (called by the transport subscription, or by the owner when
   * `attach: false`). Never throws: TU exceptions go to `onError`.
   */
  receive(inbound: InboundMessage): void {
    try {
      const m = inbound.message;
      if (m.kind === 'request') this.receiveRequest(m, inbound);
      else this.receiveResponse(m, inbound);
    } catch (e) {
      this.reportError(asError(e));
    }
  }

  /**
   * Ends every transaction now (timers cleared, table emptied; only onStateChange/onTerminated are
   * called). For shutdown; does not close the transport.
   */
  shutdown(): void {
    for (const tx of [...this.clients.values(), ...this.servers.values()]) tx.destroy();
    this.clients.clear();
    this.servers.clear();
    this.acks2543.clear();
  }

  private receiveResponse(res: SipResponse, inbound: InboundMessage): void {
    // §17.1.3: top Via branch + CSeq method.
    const via = topVia(res);
    if (via === undefined) {
      this.dropped?.(inbound, 'response without a parseable top Via');
      return;
    }
    const branch = viaBranch(via);
    const cseq = res.headers.get('CSeq');
    const method = cseq === undefined ? undefined : /\s([^\s]+)\s*$/.exec(cseq)?.[1];
    const tx =
      branch !== undefined && method !== undefined ? this.clients.get(clientKey(branch, method)) : undefined;
    if (tx !== undefined) tx.receiveResponse(res);
    else this.strayHandler?.(res, inbound);
  }

  private receiveRequest(req: SipRequest, inbound: InboundMessage): void {
    const via = topVia(req);
    if (via === undefined) {
      this.dropped?.(inbound, 'request without a parseable top Via');
      return;
    }
    let keys: ServerKeys;
    try {
      keys = serverKeysOf(req, via);
    } catch {
      this.dropped?.(inbound, 'RFC 2543 request without a parseable CSeq');
      return;
    }
    if (req.method === 'ACK') {
      // §17.2.3: the ACK matches the INVITE transaction; RFC 2543: and its To tag is the one of
      // the response the transaction sent.
      const tx = keys.rfc2543 ? this.acks2543.get(keys.key) : this.servers.get(keys.key);
      if (tx !== undefined && tx.kind === 'ist' && (!keys.rfc2543 || toTag(req) === tx.toTag)) {
        if (tx.receiveAck()) this.ackHandler?.(req, inbound, tx);
        return;
      }
      this.ackHandler?.(req, inbound, undefined);
      return;
    }
    const existing = this.servers.get(keys.key);
    if (existing !== undefined) {
      this.counters.retransmissionsReceived++;
      existing.receiveRequest();
      return;
    }
    const reliable = this.transport.reliable(inbound.source.transport);
    const tx: ServerTransaction =
      req.method === 'INVITE'
        ? new ServerInviteTransaction(this.ctx, keys.key, req, inbound.source, reliable, this.auto100)
        : new ServerNonInviteTransaction(this.ctx, keys.key, req, inbound.source, reliable);
    this.servers.set(keys.key, tx);
    this.counters.created[tx.kind]++;
    if (tx.kind === 'ist' && keys.ackKey !== undefined) {
      tx.ackKey = keys.ackKey;
      this.acks2543.set(keys.ackKey, tx);
    }
    tx.start();
    if (tx.isTerminated()) return; // the 100 Trying could not be sent (§17.2.4)
    const handler = this.requestHandler;
    if (handler === undefined) {
      this.failRequest(tx);
      return;
    }
    try {
      handler(tx, req, inbound);
    } catch (e) {
      this.failRequest(tx);
      throw e;
    }
  }

  /** 500 to a request the TU could not take (no handler, or the handler threw), unless already answered. */
  private failRequest(tx: ServerTransaction): void {
    if (tx.lastFinal === undefined && !tx.isTerminated()) {
      tx.respond(createResponse(tx.request, 500, undefined, { toTag: newTag() }));
    }
  }

  private sendCancel(tx: ClientInviteTransaction): void {
    if (tx.cancelSent || tx.isTerminated()) return;
    const cancel = buildCancel(tx.request);
    tx.armCancelGuard();
    this.createClientTransaction(cancel, tx.peer, tx.cancelHandlers ?? NO_CLIENT_HANDLERS);
  }

  private remove(tx: TransactionBase): void {
    const t = tx as ClientTransaction | ServerTransaction;
    if (t.kind === 'ict' || t.kind === 'nict') {
      if (this.clients.get(t.key) === t) this.clients.delete(t.key);
      return;
    }
    if (this.servers.get(t.key) === t) this.servers.delete(t.key);
    if (t.kind === 'ist' && t.ackKey !== undefined && this.acks2543.get(t.ackKey) === t)
      this.acks2543.delete(t.ackKey);
  }

  private reportError(e: Error): void {
    try {
      this.errorHandler(e);
    } catch {
      // an error handler that throws has nowhere further to go
    }
  }

  /** A Via for a request we originate: this transport's local address and a new branch (§8.1.1.7, §18.1.1). */
  private localVia(t: TransportName): string {
    const local = this.transport.local(t);
    const host = local.address.includes(':') ? `[${local.address}]` : local.address;
    return `SIP/2.0/${t.toUpperCase()} ${host}:${local.port};branch=${newBranch()}`;
  }
}
