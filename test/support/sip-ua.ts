/**
 * A small SIP user agent for end-to-end tests against the edge, on our own stack: the transport
 * layer (UDP and TCP on 127.0.0.1, one ephemeral port), the message parser/serializer, the ACK and
 * CANCEL builders of sip/transaction/requests.ts, and digest answers computed with
 * sip/auth/digest-client.ts. No transaction layer: a request is sent once (loopback does not lose
 * datagrams) and its responses are matched to it by Call-ID + CSeq.
 *
 * - Caller: build REGISTER / PUBLISH / INVITE / OPTIONS / any method, send it, answer one 401/407
 *   challenge, ACK non-2xx final responses to INVITE (§17.1.1.3) by itself, ACK a 2xx and BYE
 *   (§13.2.2.4, §15), CANCEL (§9.1).
 * - Callee (`answerCalls`): 180 then 200 with SDP (or ring only, or a rejection); a CANCEL of a
 *   ringing call gets 200 and the INVITE 487 (§9.2).
 * - Always: 200 to BYE.
 * Whatever no exchange claims (requests, stray responses) waits in an inbox for `take`. A response
 * our parser refuses (a 400 echoing the broken To of a torture request, as §8.2.6.2 wants) still
 * reaches the inbox, built from its status line and readable header fields, and is listed in
 * `unparseable`.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import type { DigestAlgorithm } from '../../sip/auth/digest.ts';
import {
  answerDigestChallenge,
  type DigestAnswer,
  parseDigestChallenge,
  parseDigestChallengeParams,
} from '../../sip/auth/digest-client.ts';
import { callIdOf, createResponse, cseqOf, parseNameAddr } from '../../sip/message/accessors.ts';
import { parseMessage } from '../../sip/message/parser.ts';
import { SipHeaders, type SipMessage, type SipRequest, type SipResponse } from '../../sip/message/types.ts';
import { buildAckForFailure, buildCancel } from '../../sip/transaction/requests.ts';
import { createTransportLayer, type TransportLayer } from '../../sip/transport/transport-layer.ts';
import type { Endpoint, InboundMessage, TransportName } from '../../sip/transport/types.ts';
import { sdp } from './sdp.ts';

const rand = (bytes = 6) => randomBytes(bytes).toString('hex');

// ------------------------------------------------------------------------------------------------
// Exchanges: the responses to one request

const keyOf = (m: SipMessage): string => {
  const c = cseqOf(m);
  return `${callIdOf(m)}|${c.seq}|${c.method}`;
};

const summary = (m: SipMessage): string =>
  m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason} (${m.headers.get('CSeq')})`;

/** Waits for the first item matching, among those already there or still to come. */
class Mailbox<T> {
  readonly items: T[] = [];
  private readonly waiters: { match: (t: T) => boolean; resolve: (t: T) => void }[] = [];

  constructor(
    /** Whether a matched item is removed (inbox) or stays for later waiters (exchange history). */
    private readonly consume: boolean,
  ) {}

  put(t: T): void {
    const matching = this.waiters.filter((x) => x.match(t)).slice(0, this.consume ? 1 : undefined);
    for (const w of matching) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(t);
    }
    if (!this.consume || matching.length === 0) this.items.push(t);
  }

  wait(match: (t: T) => boolean, timeoutMs: number, what: () => string): Promise<T> {
    const i = this.items.findIndex(match);
    if (i >= 0) {
      const t = this.items[i] as T;
      if (this.consume) this.items.splice(i, 1);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (t: T) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

/** The responses to one request, as they come (retransmissions included). */
export class ClientExchange {
  private readonly box = new Mailbox<SipResponse>(false);

  constructor(
    readonly request: SipRequest,
    private readonly timeoutMs: number,
  ) {}

  get responses(): readonly SipResponse[] {
    return this.box.items;
  }

  /** @internal */
  receive(r: SipResponse): void {
    this.box.put(r);
  }

  /** The first response with that status (or matching), received or to come. */
  waitFor(match: number | ((r: SipResponse) => boolean), timeoutMs = this.timeoutMs): Promise<SipResponse> {
    const pred = typeof match === 'number' ? (r: SipResponse) => r.status === match : match;
    return this.box.wait(pred, timeoutMs, () => {
      const got = this.responses.map((r) => r.status).join(', ') || 'nothing';
      return `a response to ${summary(this.request)} (got: ${got})`;
    });
  }

  /** The final response. */
  final(timeoutMs = this.timeoutMs): Promise<SipResponse> {
    return this.waitFor((r) => r.status >= 200, timeoutMs);
  }
}

/** What `request` returns: the request finally sent (with credentials after a challenge) and its outcome. */
export interface Outcome {
  request: SipRequest;
  response: SipResponse;
  /** Every response to the (last) request, provisional ones included. */
  responses: readonly SipResponse[];
  /** The 401/407 answered, if there was one. */
  challenge?: SipResponse;
}

/** One side of a dialog (RFC 3261 §12), enough to send ACK and BYE. */
export interface Dialog {
  callId: string;
  /** Our From value, with our tag. */
  local: string;
  /** Their To value, with their tag. */
  remote: string;
  /** The remote target (Contact URI of the other side). */
  target: string;
  /** Our last CSeq number in this dialog. */
  cseq: number;
}

/** A call received as callee. */
export interface IncomingCall {
  invite: SipRequest;
  tag: string;
  /** The responses we sent, last one last. */
  sent: SipResponse[];
  dialog: Dialog;
  acked: boolean;
  ended: boolean;
}

/** How the UA answers INVITEs: 180 then 200 with SDP, 180 only, or 180 then that final status. */
export type AnswerMode = 'answer' | 'ring' | number;

const contactUri = (m: SipMessage): string | undefined => {
  try {
    return parseNameAddr(m.headers.get('Contact') ?? '', 'Contact').uri;
  } catch {
    return undefined;
  }
};

/** A response our parser refuses, seen leniently: its status line and the header fields it could read. */
const lenientResponse = (raw: Buffer): SipResponse | undefined => {
  const parsed = parseMessage(raw);
  const status = /^SIP\/2\.0 ([1-6][0-9]{2}) ([^\r\n]*)/.exec(raw.toString('latin1'));
  if (parsed.ok || parsed.kind !== 'response' || !parsed.partial || !status) return undefined;
  const headers = parsed.partial.headers;
  return {
    kind: 'response',
    status: Number(status[1]),
    reason: status[2] ?? '',
    version: 'SIP/2.0',
    headers,
    body: Buffer.alloc(0),
  };
};

export interface SipUaOptions {
  /** User part of the AOR, also the digest username. */
  user: string;
  password?: string;
  /** The system's domain: AOR host and digest realm. */
  domain: string;
  /** The edge to talk to (a SipEdge). */
  edge: { udp: Endpoint; tcp: Endpoint };
  /** Transport for requests and in the Contact (default udp). */
  transport?: TransportName;
  /** How long to wait for a response (default 3000 ms). */
  timeoutMs?: number;
}

export interface BuildOptions {
  to?: string;
  from?: string;
  callId?: string;
  cseq?: number;
  /** Contact URI; null for none. Default: ours for INVITE and REGISTER. */
  contact?: string | null;
  maxForwards?: number;
  headers?: [string, string][];
  body?: string | Buffer;
  contentType?: string;
}

export class SipUa {
  readonly transport: TransportName;
  readonly server: Endpoint;
  readonly timeoutMs: number;
  /** Calls received as callee, by Call-ID. */
  readonly calls = new Map<string, IncomingCall>();
  /** Responses our parser refused (their lenient view also went to the inbox). */
  readonly unparseable: { raw: Buffer; error: string; response: SipResponse }[] = [];
  private readonly inbox = new Mailbox<InboundMessage>(true);
  private readonly exchanges = new Map<string, ClientExchange>();
  private answering: { mode: AnswerMode; delayMs: number } | undefined;
  private raw: Socket | undefined;
  private cseq = 1;

  private constructor(
    readonly layer: TransportLayer,
    readonly opts: SipUaOptions,
  ) {
    this.transport = opts.transport ?? 'udp';
    this.server = opts.edge[this.transport];
    this.timeoutMs = opts.timeoutMs ?? 3000;
    layer.onMessage((m) => this.receive(m));
    layer.onInvalid((raw, error, source) => {
      const response = lenientResponse(raw);
      if (!response) return;
      this.unparseable.push({ raw, error, response });
      this.inbox.put({ message: response, source, raw });
    });
  }

  static async start(opts: SipUaOptions): Promise<SipUa> {
    return new SipUa(await createTransportLayer({ host: '127.0.0.1' }), opts);
  }

  /** The UA's port (the same for UDP and TCP). */
  get port(): number {
    return this.layer.local('udp').port;
  }

  get aor(): string {
    return `sip:${this.opts.user}@${this.opts.domain}`;
  }

  get contact(): string {
    return `sip:${this.opts.user}@127.0.0.1:${this.port}${this.transport === 'tcp' ? ';transport=tcp' : ''}`;
  }

  /** A top Via for a new request (new branch, RFC 3261 §8.1.1.7; rport, RFC 3581). */
  via(): string {
    return `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:${this.port};branch=z9hG4bK${rand()};rport`;
  }

  // ---- building requests

  build(method: string, uri: string, o: BuildOptions = {}): SipRequest {
    const h = new SipHeaders();
    h.add('Via', this.via());
    h.add('Max-Forwards', String(o.maxForwards ?? 70));
    h.add('From', o.from ?? `<${this.aor}>;tag=${rand()}`);
    h.add('To', o.to ?? `<${uri}>`);
    h.add('Call-ID', o.callId ?? `${rand(10)}@127.0.0.1`);
    h.add('CSeq', `${o.cseq ?? this.cseq++} ${method}`);
    const contact =
      o.contact === undefined && ['INVITE', 'REGISTER'].includes(method) ? this.contact : o.contact;
    if (contact) h.add('Contact', `<${contact}>`);
    for (const [n, v] of o.headers ?? []) h.add(n, v);
    const body = typeof o.body === 'string' ? Buffer.from(o.body) : (o.body ?? Buffer.alloc(0));
    if (o.contentType) h.add('Content-Type', o.contentType);
    return { kind: 'request', method, uri, version: 'SIP/2.0', headers: h, body };
  }

  /** REGISTER of our AOR (RFC 3261 §10.2); `contact: '*'` removes every binding. */
  register(
    o: { expires?: number; contact?: string; aor?: string; headers?: [string, string][] } = {},
  ): SipRequest {
    const aor = o.aor ?? this.aor;
    return this.build('REGISTER', `sip:${this.opts.domain}`, {
      to: `<${aor}>`,
      from: `<${aor}>;tag=${rand()}`,
      contact: null,
      headers: [
        ['Contact', o.contact === '*' ? '*' : `<${o.contact ?? this.contact}>`],
        ...(o.expires !== undefined ? ([['Expires', String(o.expires)]] as [string, string][]) : []),
        ...(o.headers ?? []),
      ],
    });
  }

  /**
   * PUBLISH of our affiliations (TS 24.379 §9.2.1.2, RFC 3903): Event presence, a PIDF body from
   * serializeAffiliationPidf affiliating us to `groups` for an hour — or any `body` / type / event.
   */
  publish(
    o: { groups?: string[]; entity?: string; body?: string; contentType?: string; event?: string } = {},
  ): SipRequest {
    const body =
      o.body ??
      serializeAffiliationPidf({
        entity: o.entity ?? this.aor,
        clientId: `${this.opts.user}-client-1`,
        affiliations: (o.groups ?? []).map((groupId) => ({ groupId, expiresAt: Date.now() + 3_600_000 })),
      });
    return this.build('PUBLISH', this.aor, {
      to: `<${this.aor}>`,
      headers: [
        ['Event', o.event ?? 'presence'],
        ['Expires', '3600'],
      ],
      body,
      contentType: o.contentType ?? 'application/pidf+xml',
    });
  }

  /** INVITE with an SDP offer. */
  invite(target: string, o: BuildOptions = {}): SipRequest {
    return this.build('INVITE', target, { body: sdp(this.opts.user), contentType: 'application/sdp', ...o });
  }

  options(uri = `sip:${this.opts.domain}`, o: BuildOptions = {}): SipRequest {
    return this.build('OPTIONS', uri, { headers: [['Accept', 'application/sdp']], ...o });
  }

  /** CANCEL of a pending INVITE (§9.1: same top Via, Call-ID, From, To, CSeq number). */
  cancel(invite: SipRequest): SipRequest {
    return buildCancel(invite);
  }

  /** The dialog a 2xx to our INVITE created (caller side). */
  dialogOf(invite: SipRequest, ok: SipResponse): Dialog {
    return {
      callId: callIdOf(invite),
      local: invite.headers.get('From') ?? '',
      remote: ok.headers.get('To') ?? '',
      target: contactUri(ok) ?? invite.uri,
      cseq: cseqOf(invite).seq,
    };
  }

  /** The ACK for a 2xx (§13.2.2.4): its own branch, CSeq number of the INVITE. */
  ack(invite: SipRequest, ok: SipResponse): SipRequest {
    const d = this.dialogOf(invite, ok);
    return this.build('ACK', d.target, {
      from: d.local,
      to: d.remote,
      callId: d.callId,
      cseq: cseqOf(invite).seq,
      contact: null,
    });
  }

  /** A BYE in `dialog` (§15.1.1), CSeq one higher than our last. */
  bye(dialog: Dialog): SipRequest {
    dialog.cseq += 1;
    return this.build('BYE', dialog.target, {
      from: dialog.local,
      to: dialog.remote,
      callId: dialog.callId,
      cseq: dialog.cseq,
      contact: null,
    });
  }

  /**
   * Our request again with credentials answering `challenge` (a 401 or 407): new branch, CSeq + 1,
   * same Call-ID and From tag (§22.2). `algorithm` picks among several challenges (default: the first).
   */
  authorize(
    req: SipRequest,
    challenge: SipResponse,
    o: { algorithm?: DigestAlgorithm } & Partial<
      Pick<DigestAnswer, 'password' | 'nonce' | 'nc' | 'cnonce' | 'noQop'>
    > = {},
  ): SipRequest {
    const proxy = challenge.status === 407;
    const offers = challenge.headers.getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate');
    const offer = o.algorithm
      ? offers.find(
          (v) => (parseDigestChallengeParams(v).get('algorithm') ?? 'MD5').toUpperCase() === o.algorithm,
        )
      : offers[0];
    if (!offer) throw new Error(`no ${o.algorithm ?? ''} challenge in ${summary(challenge)}`);
    const headers = req.headers.clone();
    const { seq, method } = cseqOf(req);
    headers.set('Via', this.via());
    headers.set('CSeq', `${seq + 1} ${method}`);
    headers.set(
      proxy ? 'Proxy-Authorization' : 'Authorization',
      answerDigestChallenge(parseDigestChallenge(offer), {
        ...o,
        username: this.opts.user,
        password: o.password ?? this.opts.password ?? '',
        method: req.method,
        uri: req.uri,
      }),
    );
    return { ...req, headers };
  }

  // ---- sending

  /** Sends a message as it is: requests to the edge (or `to`), responses back along their Via. */
  async send(m: SipMessage, to: Endpoint = this.server): Promise<void> {
    await this.layer.send(m, to);
  }

  /**
   * Sends bytes as they are, from a separate UDP socket (the transport layer only sends messages).
   * Responses reach the UA when the top Via names 127.0.0.1:port without rport.
   */
  async sendRaw(bytes: Buffer, to: Endpoint = this.opts.edge.udp): Promise<void> {
    if (!this.raw) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      this.raw = socket;
    }
    const socket = this.raw;
    await new Promise<void>((resolve, reject) =>
      socket.send(bytes, to.port, to.address, (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Sends a request; its responses are collected in the returned exchange. */
  async begin(req: SipRequest, to: Endpoint = this.server): Promise<ClientExchange> {
    const ex = new ClientExchange(req, this.timeoutMs);
    this.exchanges.set(keyOf(req), ex);
    await this.send(req, to);
    return ex;
  }

  /**
   * Sends a request and answers one 401/407 challenge with credentials. Resolves with the exchange
   * of the request sent last, once its fate is known far enough: after the first response other
   * than 100 to the first attempt, i.e. possibly before the final response of the second.
   */
  async start(
    req: SipRequest,
    o: { auth?: boolean; algorithm?: DigestAlgorithm } = {},
  ): Promise<{ exchange: ClientExchange; challenge?: SipResponse }> {
    const first = await this.begin(req);
    const r = await first.waitFor((x) => x.status > 100);
    if (o.auth === false || (r.status !== 401 && r.status !== 407)) return { exchange: first };
    const again = this.authorize(req, r, o.algorithm ? { algorithm: o.algorithm } : {});
    return { exchange: await this.begin(again), challenge: r };
  }

  /** `start`, then the final response. */
  async request(req: SipRequest, o: { auth?: boolean; algorithm?: DigestAlgorithm } = {}): Promise<Outcome> {
    const { exchange, challenge } = await this.start(req, o);
    const response = await exchange.final();
    return {
      request: exchange.request,
      response,
      responses: exchange.responses,
      ...(challenge ? { challenge } : {}),
    };
  }

  // ---- receiving

  /** Incoming INVITEs are answered: 180 then, after `delayMs`, per `mode`. */
  answerCalls(mode: AnswerMode, delayMs = 0): void {
    this.answering = { mode, delayMs };
  }

  /** The first unclaimed message matching, received or to come; removed from the inbox. */
  take(match: (m: InboundMessage) => boolean, timeoutMs = this.timeoutMs): Promise<InboundMessage> {
    return this.inbox.wait(match, timeoutMs, () => {
      const got = this.inbox.items.map((m) => summary(m.message)).join('; ') || 'nothing';
      return `a message at ${this.opts.user}'s UA (inbox: ${got})`;
    });
  }

  /** The first unclaimed request of that method (and Call-ID). */
  async takeRequest(method: string, callId?: string, timeoutMs = this.timeoutMs): Promise<SipRequest> {
    const m = await this.take(
      (x) =>
        x.message.kind === 'request' &&
        x.message.method === method &&
        (callId === undefined || callIdOf(x.message) === callId),
      timeoutMs,
    );
    return m.message as SipRequest;
  }

  /** Waits `ms`, then returns and empties the inbox. */
  async drain(ms: number): Promise<InboundMessage[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.items.splice(0);
  }

  private receive(m: InboundMessage): void {
    const msg = m.message;
    if (msg.kind === 'response') {
      let ex: ClientExchange | undefined;
      try {
        ex = this.exchanges.get(keyOf(msg));
      } catch {
        ex = undefined; // no parseable CSeq: not ours to match
      }
      if (ex) {
        ex.receive(msg);
        // §17.1.1.3: every non-2xx final response to an INVITE is ACKed (retransmissions too).
        if (ex.request.method === 'INVITE' && msg.status >= 300)
          void this.send(buildAckForFailure(ex.request, msg)).catch(() => undefined);
        return;
      }
    } else {
      this.respondTo(msg, m);
    }
    this.inbox.put(m);
  }

  private reply(inbound: InboundMessage, res: SipResponse): void {
    void this.send(res, inbound.source).catch(() => undefined);
  }

  /** The UA's automatic answers (callee role, BYE, CANCEL). */
  private respondTo(req: SipRequest, inbound: InboundMessage): void {
    const call = this.calls.get(callIdOf(req));
    switch (req.method) {
      case 'INVITE':
        if (call && cseqOf(call.invite).seq === cseqOf(req).seq) {
          const last = call.sent.at(-1); // a retransmission: the latest response again
          if (last) this.reply(inbound, last);
        } else if (this.answering) this.answer(req, inbound, this.answering);
        return;
      case 'ACK':
        if (call) call.acked = true;
        return;
      case 'BYE':
        if (call) call.ended = true;
        this.reply(inbound, createResponse(req, 200, 'OK', { toTag: rand() }));
        return;
      case 'CANCEL': {
        const pending = call && !call.sent.some((r) => r.status >= 200);
        if (!call || !pending) {
          this.reply(inbound, createResponse(req, 481, undefined, { toTag: rand() }));
          return;
        }
        this.reply(inbound, createResponse(req, 200, 'OK', { toTag: call.tag }));
        this.respondInCall(call, inbound, 487);
        return;
      }
      default:
        return;
    }
  }

  private respondInCall(call: IncomingCall, inbound: InboundMessage, status: number): void {
    const ok = status >= 200 && status < 300;
    const res = createResponse(call.invite, status, undefined, {
      toTag: call.tag,
      headers: status < 300 ? [['Contact', `<${this.contact}>`]] : [],
      ...(ok ? { body: Buffer.from(sdp(this.opts.user, 49180)), contentType: 'application/sdp' } : {}),
    });
    call.sent.push(res);
    this.reply(inbound, res);
  }

  private answer(
    invite: SipRequest,
    inbound: InboundMessage,
    how: { mode: AnswerMode; delayMs: number },
  ): void {
    const tag = rand();
    const call: IncomingCall = {
      invite,
      tag,
      sent: [],
      acked: false,
      ended: false,
      dialog: {
        callId: callIdOf(invite),
        local: `${invite.headers.get('To') ?? ''};tag=${tag}`,
        remote: invite.headers.get('From') ?? '',
        target: contactUri(invite) ?? invite.uri,
        cseq: 100,
      },
    };
    this.calls.set(call.dialog.callId, call);
    this.respondInCall(call, inbound, 180);
    if (how.mode === 'ring') return;
    const final = how.mode === 'answer' ? 200 : how.mode;
    setTimeout(() => {
      if (!call.sent.some((r) => r.status >= 200)) this.respondInCall(call, inbound, final);
    }, how.delayMs);
  }

  async close(): Promise<void> {
    this.raw?.close();
    await this.layer.close();
  }
}
