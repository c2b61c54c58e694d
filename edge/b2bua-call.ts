/**
 * A basic call relayed by the edge as a back-to-back user agent: the caller's INVITE (inbound
 * leg, our server transaction) becomes a new INVITE to the callee's registered contact (outbound
 * leg, our client transaction) with its own Call-ID and tags. Dialog rules of RFC 3261 §12–§15:
 *  - provisional and final responses of the callee are relayed to the caller with our To tag;
 *  - a 2xx from the callee is ACKed at once (§13.2.2.4) and relayed; the relayed 2xx is
 *    retransmitted until the caller's ACK arrives (§13.3.1.4), else both legs are ended with BYE;
 *  - CANCEL from the caller: 487 to the caller, CANCEL to the callee (§9);
 *  - BYE from either side ends both legs (§15).
 */
import { randomBytes } from 'node:crypto';
import { callIdOf, createResponse, cseqOf, parseNameAddr, toTag } from '../sip/message/accessors.ts';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../sip/message/types.ts';
import type { ClientTransactionHandlers } from '../sip/transaction/client-invite.ts';
import type { Endpoint } from '../sip/transport/types.ts';
import { endpointOfUri } from './contact-endpoint.ts';

/**
 * What the edge gives every relayed call: shared by all of them, so a call holds no closures of its own
 * (decision 0017). The caller's server transaction is given to each call with its INVITE.
 */
export interface CallLegIo {
  /** Our Contact URI for the given transport. */
  contact(transport: Endpoint['transport']): string;
  /** Our Via value (with a new branch) for a new request over the given transport. */
  via(transport: Endpoint['transport']): { value: string; branch: string };
  /** Sends an INVITE in a client transaction that reports to `on`, the call itself (no closures). */
  sendInvite(req: SipRequest, to: Endpoint, on: ClientTransactionHandlers): { cancel(): void };
  /** Sends a non-INVITE request (BYE) in a client transaction; outcome ignored beyond logging. */
  sendRequest(req: SipRequest, to: Endpoint): void;
  /** Sends an ACK for a 2xx (it is its own transaction-less request, §13.2.2.4). */
  sendAck(req: SipRequest, to: Endpoint): void;
  /** Sends a 2xx retransmission to the caller outside the transaction (RFC 6026 Accepted state). */
  retransmitInbound(res: SipResponse, to: Endpoint): void;
  timers: { T1: number; T2: number };
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  ended(call: B2buaCall): void;
}

/** The caller's INVITE server transaction, as far as a relayed call uses it. */
export interface InboundTransaction {
  respond(res: SipResponse): void;
}

const newTag = () => randomBytes(6).toString('hex');
const newCallId = () => `${randomBytes(12).toString('hex')}@edge`;

type State = 'calling' | 'early' | 'confirming' | 'confirmed' | 'ended';

export class B2buaCall implements ClientTransactionHandlers {
  state: State = 'calling';
  readonly inboundCallId: string;
  readonly outboundCallId = newCallId();
  /** Our tag on the caller's dialog (the To tag of our responses). */
  readonly inboundTag = newTag();
  /** Our tag on the callee's dialog (the From tag of our INVITE). */
  readonly outboundTag = newTag();
  private outboundRemoteTag: string | undefined;
  private outboundRemoteTarget: string | undefined;
  private outboundDestination: Endpoint;
  /** Request-URI, From and To of the outbound INVITE: what the outbound dialog's ACK and BYE repeat. */
  private readonly outboundUri: string;
  private readonly outboundFrom: string;
  private readonly outboundTo: string;
  private outboundCseq = 1;
  private inboundCseq = 1;
  private inboundRemoteTarget: string | undefined;
  /** From, To and CSeq number of the caller's INVITE: what the inbound dialog's BYE and ACK need. */
  private readonly inboundFrom: string;
  private readonly inboundTo: string;
  private readonly inviteSeq: number;
  /**
   * The caller's INVITE, until its final response is relayed (responses are built from it, §8.2.6).
   * What the call keeps afterwards is what its two dialogs need: it stays reachable for 64*T1 after its
   * 2xx through the outbound INVITE transaction (RFC 6026 Accepted), so messages it held would be held
   * that long for every call.
   */
  private inviteRequest: SipRequest | undefined;
  /** The relayed 2xx, retransmitted until the caller's ACK (§13.3.1.4), then let go. */
  private relayed2xx: SipResponse | undefined;
  /** The caller's INVITE server transaction, until the final response went through it (§17.2.1). */
  private inbound: InboundTransaction | undefined;
  /** Timers of the relayed 2xx (§13.3.1.4), let go when they stop. */
  private retransmitTimer: unknown = undefined;
  private retransmitInterval = 0;
  private giveUpTimer: unknown = undefined;
  private pendingInvite: { cancel(): void } | undefined;

  constructor(
    inviteRequest: SipRequest,
    inbound: InboundTransaction,
    readonly caller: Endpoint,
    private readonly io: CallLegIo,
    target: { contact: string; destination: Endpoint },
  ) {
    this.inviteRequest = inviteRequest;
    this.inbound = inbound;
    this.inboundCallId = callIdOf(inviteRequest);
    this.inboundFrom = inviteRequest.headers.get('From') ?? '';
    this.inboundTo = inviteRequest.headers.get('To') ?? '';
    this.inviteSeq = cseqOf(inviteRequest).seq;
    this.outboundDestination = target.destination;
    this.outboundUri = target.contact;
    const from = parseNameAddr(this.inboundFrom, 'From');
    this.outboundFrom = `${from.displayName ? `"${from.displayName}" ` : ''}<${from.uri}>;tag=${this.outboundTag}`;
    this.outboundTo = inviteRequest.headers.get('To') ?? `<${target.contact}>`;
    try {
      this.inboundRemoteTarget = parseNameAddr(inviteRequest.headers.get('Contact') ?? '', 'Contact').uri;
    } catch {
      this.inboundRemoteTarget = undefined;
    }
    this.start(inviteRequest);
  }

  private start(req: SipRequest): void {
    const t = this.outboundDestination.transport;
    const via = this.io.via(t);
    const headers = new SipHeaders();
    headers.add('Via', via.value);
    const maxForwards = Number(req.headers.get('Max-Forwards') ?? 70);
    headers.add('Max-Forwards', String(Math.max(0, (Number.isFinite(maxForwards) ? maxForwards : 70) - 1)));
    headers.add('From', this.outboundFrom);
    headers.add('To', this.outboundTo);
    headers.add('Call-ID', this.outboundCallId);
    headers.add('CSeq', `${this.outboundCseq} INVITE`);
    headers.add('Contact', `<${this.io.contact(t)}>`);
    for (const name of ['Content-Type', 'Accept-Contact', 'P-Preferred-Service', 'Supported', 'Allow']) {
      const v = req.headers.get(name);
      if (v !== undefined) headers.add(name, v);
    }
    const invite: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: this.outboundUri,
      version: 'SIP/2.0',
      headers,
      body: req.body,
    };
    this.pendingInvite = this.io.sendInvite(invite, this.outboundDestination, this);
  }

  /** @internal The relayed INVITE timed out (Timer B, §17.1.1.2): the caller gets a 408. */
  onTimeout(): void {
    this.failInbound(408, 'Request Timeout');
  }

  /** @internal The relayed INVITE could not be sent (§17.1.4): the caller gets a 503. */
  onTransportError(): void {
    this.failInbound(503, 'Service Unavailable');
  }

  /** The response to the caller's INVITE; a final one lets the INVITE go. */
  private respondToInvite(status: number, reason: string): SipResponse {
    const req = this.inviteRequest;
    if (!req) throw new Error('the INVITE already has its final response');
    if (status >= 200) this.inviteRequest = undefined;
    return createResponse(req, status, reason, { toTag: this.inboundTag });
  }

  private relayResponse(r: SipResponse): SipResponse {
    const res = this.respondToInvite(r.status, r.reason);
    for (const name of ['Content-Type', 'Warning', 'P-Answer-State', 'Require', 'Supported', 'Allow']) {
      for (const v of r.headers.getAll(name)) res.headers.add(name, v);
    }
    if (r.status >= 200 && r.status < 300)
      res.headers.add('Contact', `<${this.io.contact(this.caller.transport)}>`);
    if (r.status >= 300 && r.status < 400)
      for (const v of r.headers.getAll('Contact')) res.headers.add('Contact', v);
    res.body = r.body;
    return res;
  }

  /** @internal A response to the relayed INVITE (every 2xx, retransmissions included, RFC 6026 §8.4). */
  onResponse(r: SipResponse): void {
    if (r.status === 100) return;
    if (r.status < 200) {
      if (this.state === 'calling' || this.state === 'early') {
        this.state = 'early';
        this.respondInbound(this.relayResponse(r));
      }
      return;
    }
    if (r.status >= 300) {
      this.pendingInvite = undefined;
      if (this.state === 'calling' || this.state === 'early') this.failInbound(r.status, r.reason, r);
      return;
    }
    // 2xx: ACK it (§13.2.2.4) — also every retransmission of it (the client transaction passes them up).
    this.outboundRemoteTag = toTag(r);
    try {
      this.outboundRemoteTarget = parseNameAddr(r.headers.get('Contact') ?? '', 'Contact').uri;
    } catch {
      this.outboundRemoteTarget = this.outboundUri;
    }
    this.sendOutboundAck();
    if (this.state === 'ended') {
      this.byeOutbound();
      return;
    }
    if (this.state === 'calling' || this.state === 'early') {
      this.pendingInvite = undefined;
      this.state = 'confirming';
      this.relayed2xx = this.relayResponse(r);
      this.respondInbound(this.relayed2xx);
      this.retransmitInterval = this.io.timers.T1;
      this.retransmitTimer = this.io.setTimeout(() => this.retransmit2xx(), this.retransmitInterval);
      this.giveUpTimer = this.io.setTimeout(() => this.noAck(), 64 * this.io.timers.T1);
    }
  }

  private outboundDialogRequest(method: 'ACK' | 'BYE'): { req: SipRequest; to: Endpoint } {
    const target = this.outboundRemoteTarget ?? this.outboundUri;
    const to = endpointOfUri(target) ?? this.outboundDestination;
    const headers = new SipHeaders();
    headers.add('Via', this.io.via(to.transport).value);
    headers.add('Max-Forwards', '70');
    headers.add('From', this.outboundFrom);
    headers.add('To', `${this.outboundTo}${this.outboundRemoteTag ? `;tag=${this.outboundRemoteTag}` : ''}`);
    headers.add('Call-ID', this.outboundCallId);
    const seq = method === 'ACK' ? 1 : ++this.outboundCseq;
    headers.add('CSeq', `${seq} ${method}`);
    return {
      req: { kind: 'request', method, uri: target, version: 'SIP/2.0', headers, body: EMPTY_BODY },
      to,
    };
  }

  private sendOutboundAck(): void {
    const ack = this.outboundDialogRequest('ACK');
    this.io.sendAck(ack.req, ack.to);
  }

  private byeOutbound(): void {
    const bye = this.outboundDialogRequest('BYE');
    this.io.sendRequest(bye.req, bye.to);
  }

  private byeInbound(): void {
    const target = this.inboundRemoteTarget;
    if (!target) return;
    const to = endpointOfUri(target) ?? this.caller;
    const headers = new SipHeaders();
    headers.add('Via', this.io.via(to.transport).value);
    headers.add('Max-Forwards', '70');
    headers.add('From', `${this.inboundTo};tag=${this.inboundTag}`);
    headers.add('To', this.inboundFrom);
    headers.add('Call-ID', this.inboundCallId);
    headers.add('CSeq', `${this.inboundCseq++} BYE`);
    this.io.sendRequest(
      { kind: 'request', method: 'BYE', uri: target, version: 'SIP/2.0', headers, body: EMPTY_BODY },
      to,
    );
  }

  private retransmit2xx(): void {
    if (this.state !== 'confirming' || !this.relayed2xx) return;
    this.io.retransmitInbound(this.relayed2xx, this.caller);
    this.retransmitInterval = Math.min(this.retransmitInterval * 2, this.io.timers.T2);
    this.retransmitTimer = this.io.setTimeout(() => this.retransmit2xx(), this.retransmitInterval);
  }

  /** §13.3.1.4: no ACK within 64*T1 → the dialog is confirmed and then ended with BYE. */
  private noAck(): void {
    if (this.state !== 'confirming') return;
    this.byeInbound();
    this.byeOutbound();
    this.end();
  }

  private failInbound(status: number, reason: string, r?: SipResponse): void {
    if (this.state === 'ended') return;
    // After the 2xx was relayed (a transport error of the outbound leg) there is nothing to answer.
    if (this.inviteRequest)
      this.respondInbound(r ? this.relayResponse(r) : this.respondToInvite(status, reason));
    this.end();
  }

  /** The caller's ACK for our 2xx. */
  onInboundAck(ack: SipRequest): void {
    if (this.state !== 'confirming') return;
    if (cseqOf(ack).seq !== this.inviteSeq) return;
    this.state = 'confirmed';
    this.relayed2xx = undefined;
    this.stopTimers();
  }

  /** CANCEL of the inbound INVITE (§9.2): 487 to the caller, CANCEL towards the callee. */
  onInboundCancel(): void {
    if (this.state !== 'calling' && this.state !== 'early') return;
    this.respondInbound(this.respondToInvite(487, 'Request Terminated'));
    this.pendingInvite?.cancel();
    this.end();
  }

  /** A BYE from the caller (inbound) or the callee (outbound): the other leg gets a BYE. */
  onBye(fromCaller: boolean): void {
    if (this.state === 'ended') return;
    if (fromCaller) this.byeOutbound();
    else this.byeInbound();
    this.end();
  }

  /** Answers an in-dialog request (BYE) with 200. */
  static ok(req: SipRequest): SipResponse {
    return createResponse(req, 200, 'OK');
  }

  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.relayed2xx = undefined;
    this.inviteRequest = undefined;
    this.inbound = undefined;
    this.stopTimers();
    this.io.ended(this);
  }

  private stopTimers(): void {
    this.io.clearTimeout(this.retransmitTimer);
    this.io.clearTimeout(this.giveUpTimer);
    this.retransmitTimer = undefined;
    this.giveUpTimer = undefined;
  }

  /** A response to the caller's INVITE, through its server transaction; the final one lets it go. */
  private respondInbound(res: SipResponse): void {
    this.inbound?.respond(res);
    if (res.status >= 200) this.inbound = undefined;
  }
}
