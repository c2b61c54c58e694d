/**
 * One outgoing INVITE dialog originated by the edge (RFC 3261 §13.2, §12.1.2): the edge is the UAC.
 * It ACKs every 2xx (§13.2.2.4, retransmissions included), can CANCEL before the final response
 * (§9.1) and BYE after (§15.1.1), and reports its outcome once.
 */
import { randomBytes } from 'node:crypto';
import { parseNameAddr, toTag } from '../sip/message/accessors.ts';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../sip/message/types.ts';
import type { ClientTransactionHandlers } from '../sip/transaction/client-invite.ts';
import type { Endpoint } from '../sip/transport/types.ts';
import { endpointOfUri } from './contact-endpoint.ts';

export interface OutboundLegIo {
  contact(transport: Endpoint['transport']): string;
  via(transport: Endpoint['transport']): { value: string; branch: string };
  /**
   * Sends an INVITE in a client transaction that reports to `on`, the leg itself: its methods, so an
   * INVITE in flight (or waiting out Timer M, RFC 6026 §8.4) costs no closures or objects of its own.
   */
  sendInvite(req: SipRequest, to: Endpoint, on: ClientTransactionHandlers): { cancel(): void };
  sendRequest(req: SipRequest, to: Endpoint, onFinal?: (status: number) => void): void;
  sendAck(req: SipRequest, to: Endpoint): void;
}

export interface LegOutcome {
  status: number;
  reason: string;
  /** Warning header text of the final response, if any. */
  warning?: string;
  /** The answer body (SDP or multipart) of a 2xx. */
  body?: Buffer;
  contentType?: string;
}

export interface OutboundLegOptions {
  /** Request-URI (the member's contact or AOR). */
  target: string;
  destination: Endpoint;
  from: { uri: string; displayName?: string };
  to: string;
  body?: { contentType: string; data: Buffer };
  headers?: [string, string][];
  onProvisional?(status: number): void;
  onFinal(outcome: LegOutcome): void;
  /** The dialog ended (our BYE sent, or the member's BYE received): whoever holds the leg lets it go. */
  onEnded?(): void;
}

/**
 * What a leg keeps is what its dialog needs (§12.1.2): after the final response it no longer holds the
 * INVITE, its body or the caller's callbacks it has used. A leg stays reachable for 64*T1 after its
 * 2xx through its INVITE transaction (RFC 6026 Accepted state, which passes 2xx retransmissions to
 * it), so whatever it holds is held that long for every member of every call.
 */
export class OutboundLeg implements ClientTransactionHandlers {
  readonly callId = `${randomBytes(12).toString('hex')}@edge`;
  readonly fromTag = randomBytes(6).toString('hex');
  state: 'calling' | 'early' | 'confirmed' | 'failed' | 'ended' = 'calling';
  private remoteTag: string | undefined;
  private remoteTarget: string | undefined;
  private cseq = 1;
  /** The From header field of every request of the dialog (§12.2.1.1: the local URI and tag). */
  private readonly from: string;
  private readonly target: string;
  private readonly to: string;
  private readonly destination: Endpoint;
  private pending: { cancel(): void } | undefined;
  /** The caller's callbacks, each dropped once it can no longer be called. */
  private onProvisional: ((status: number) => void) | undefined;
  private onFinal: ((outcome: LegOutcome) => void) | undefined;
  private onEnded: (() => void) | undefined;

  constructor(
    opts: OutboundLegOptions,
    private readonly io: OutboundLegIo,
  ) {
    this.target = opts.target;
    this.to = opts.to;
    this.destination = opts.destination;
    this.onProvisional = opts.onProvisional;
    this.onFinal = opts.onFinal;
    this.onEnded = opts.onEnded;
    const t = opts.destination.transport;
    const headers = new SipHeaders();
    headers.add('Via', io.via(t).value);
    headers.add('Max-Forwards', '70');
    const display = opts.from.displayName ? `"${opts.from.displayName.replace(/["\\]/g, '')}" ` : '';
    this.from = `${display}<${opts.from.uri}>;tag=${this.fromTag}`;
    headers.add('From', this.from);
    headers.add('To', `<${opts.to}>`);
    headers.add('Call-ID', this.callId);
    headers.add('CSeq', `${this.cseq} INVITE`);
    headers.add('Contact', `<${io.contact(t)}>`);
    for (const [n, v] of opts.headers ?? []) headers.add(n, v);
    if (opts.body) headers.add('Content-Type', opts.body.contentType);
    const invite: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: opts.target,
      version: 'SIP/2.0',
      headers,
      body: opts.body?.data ?? EMPTY_BODY,
    };
    this.pending = io.sendInvite(invite, opts.destination, this);
  }

  /** @internal The INVITE transaction timed out (Timer B, §17.1.1.2). */
  onTimeout(): void {
    this.fail({ status: 408, reason: 'Request Timeout' });
  }

  /** @internal The INVITE could not be sent (§17.1.4). */
  onTransportError(e: Error): void {
    this.fail({ status: 503, reason: `Service Unavailable (${e.message})` });
  }

  get sipCallId(): string {
    return this.callId;
  }

  /** Reports the outcome once; a failed leg has nothing left to report and lets its callbacks go. */
  private report(outcome: LegOutcome): void {
    const onFinal = this.onFinal;
    this.onFinal = undefined;
    this.onProvisional = undefined;
    if (this.state === 'failed') this.onEnded = undefined;
    onFinal?.(outcome);
  }

  private fail(outcome: LegOutcome): void {
    if (this.state === 'calling' || this.state === 'early') this.state = 'failed';
    this.pending = undefined;
    this.report(outcome);
  }

  /** The dialog ended: tells the holder once. */
  private ended(): void {
    this.state = 'ended';
    const onEnded = this.onEnded;
    this.onEnded = undefined;
    onEnded?.();
  }

  /** @internal A response to the INVITE (every 2xx, retransmissions included, RFC 6026 §8.4). */
  onResponse(r: SipResponse): void {
    if (r.status < 200) {
      if (r.status > 100 && this.state === 'calling') this.state = 'early';
      if (r.status > 100) this.onProvisional?.(r.status);
      return;
    }
    if (r.status >= 300) {
      const warning = r.headers.get('Warning');
      this.fail({ status: r.status, reason: r.reason, ...(warning ? { warning } : {}) });
      return;
    }
    this.remoteTag = toTag(r);
    try {
      this.remoteTarget = parseNameAddr(r.headers.get('Contact') ?? '', 'Contact').uri;
    } catch {
      this.remoteTarget = this.target;
    }
    this.sendInDialog('ACK');
    this.pending = undefined;
    if (this.state === 'ended') {
      // Answered after we gave up (CANCEL crossed the 200, §9.1): end it at once.
      this.sendInDialog('BYE');
      return;
    }
    if (this.state === 'calling' || this.state === 'early') {
      this.state = 'confirmed';
      const type = r.headers.get('Content-Type');
      this.report({
        status: r.status,
        reason: r.reason,
        body: r.body,
        ...(type ? { contentType: type } : {}),
      });
    }
  }

  private sendInDialog(method: 'ACK' | 'BYE', onFinal?: (status: number) => void): void {
    const target = this.remoteTarget ?? this.target;
    const to = endpointOfUri(target) ?? this.destination;
    const headers = new SipHeaders();
    headers.add('Via', this.io.via(to.transport).value);
    headers.add('Max-Forwards', '70');
    headers.add('From', this.from);
    headers.add('To', `<${this.to}>${this.remoteTag ? `;tag=${this.remoteTag}` : ''}`);
    headers.add('Call-ID', this.callId);
    headers.add('CSeq', `${method === 'ACK' ? 1 : ++this.cseq} ${method}`);
    const req: SipRequest = {
      kind: 'request',
      method,
      uri: target,
      version: 'SIP/2.0',
      headers,
      body: EMPTY_BODY,
    };
    if (method === 'ACK') this.io.sendAck(req, to);
    else this.io.sendRequest(req, to, onFinal);
  }

  /** CANCEL before the final response (§9.1); the leg is then reported 487 by the callee's answer. */
  cancel(): boolean {
    if (this.state !== 'calling' && this.state !== 'early') return false;
    this.pending?.cancel();
    return true;
  }

  /** BYE in a confirmed dialog (§15.1.1). */
  bye(onFinal?: (status: number) => void): boolean {
    if (this.state !== 'confirmed') return false;
    // Ended before the BYE goes: should its transaction report at once (onFinal on a transport error),
    // the dialog is already over. ended() below then lets the leg go.
    this.state = 'ended';
    this.sendInDialog('BYE', onFinal);
    this.ended();
    return true;
  }

  /** The member hung up (BYE received in this dialog). */
  remoteBye(): void {
    if (this.state === 'ended') return;
    this.ended();
  }
}
