/**
 * The calling user agent of the benchmark, in the driver process (light: at most a few tens of
 * calls per second). Places INVITEs at a fixed rate for a fixed time, times each with
 * `performance.now()` from the first INVITE sent to the final response, then ACKs and, for a 2xx,
 * hangs up with BYE.
 *
 * - `ours`: the caller is a registered, affiliated member of the primary; its INVITEs carry digest
 *   credentials computed ahead from the challenge of its last REGISTER (RFC 7616: a fresh cnonce per
 *   request; a 407 is still answered, and counted). Success = `200 OK`.
 * - `kamailio`: no authentication; members answer `180` then `486` (scripts/bench/member-pool.ts), so
 *   the proxy's final response comes once every branch has answered ("all answered"); the first
 *   forwarded `180` is the first member reached. Success = `486`.
 *
 * UDP with RFC 3261 Timer A retransmission of the INVITE until a response; a call without a final
 * response 45 s after its INVITE is a failure (`timeout`).
 */
import { createSocket, type Socket } from 'node:dgram';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import {
  answerDigestChallenge,
  type DigestChallenge,
  parseDigestChallenge,
} from '../../sip/auth/digest-client.ts';
import { parseNameAddr } from '../../sip/message/accessors.ts';
import { parseMessage } from '../../sip/message/parser.ts';
import type { SipRequest, SipResponse } from '../../sip/message/types.ts';
import { buildAckForFailure } from '../../sip/transaction/requests.ts';
import { HOST, preciseNow, sleep } from './common.ts';
import { buildRequest, bytesOf, peek, rand, sdp } from './sip-lite.ts';

/** A challenge this caller can answer, or undefined: the 407 then ends the call as it is. */
const readChallenge = (offer: string | undefined): DigestChallenge | undefined => {
  try {
    return offer ? parseDigestChallenge(offer) : undefined;
  } catch {
    return undefined;
  }
};

export interface CallRecord {
  sipCallId: string;
  /** Epoch ms (precise) of the first INVITE. */
  sentAt: number;
  /** ms from the first INVITE to the first 180 (Kamailio: first member reached). */
  firstRingMs?: number;
  rings: number;
  /** ms from the first INVITE to the final response. */
  finalMs?: number;
  status?: number;
  reason?: string;
  warning?: string;
  challenged: boolean;
  retransmissions: number;
  byeStatus?: number;
  ok: boolean;
}

interface LiveCall {
  record: CallRecord;
  invite: SipRequest;
  bytes: Buffer;
  t0: number;
  gotResponse: boolean;
  timer?: NodeJS.Timeout;
  done: boolean;
  acked?: Buffer;
}

export interface CallerOptions {
  mode: 'ours' | 'kamailio';
  /** Where INVITEs (and REGISTER) go. */
  target: { host: string; port: number };
  user: string;
  domain: string;
  password?: string;
}

const CALL_TIMEOUT_MS = 45_000;

export class Caller {
  private socket!: Socket;
  private port = 0;
  private challenge: DigestChallenge | undefined;
  private readonly live = new Map<string, LiveCall>();
  private readonly pendingNonInvite = new Map<string, (r: SipResponse) => void>();
  constructor(private readonly o: CallerOptions) {}

  get aor(): string {
    return `sip:${this.o.user}@${this.o.domain}`;
  }

  get contact(): string {
    return `sip:${this.o.user}@${HOST}:${this.port}`;
  }

  async start(): Promise<void> {
    this.socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 1 << 20 });
    await new Promise<void>((res) => this.socket.bind(0, HOST, () => res()));
    this.port = this.socket.address().port;
    this.socket.on('message', (buf) => this.receive(buf));
  }

  private closed = false;

  close(): void {
    this.closed = true;
    this.socket.close();
  }

  /** Sends one datagram; after close() (a late retransmission timer) nothing is sent. */
  private send(bytes: Buffer, to = this.o.target): void {
    if (this.closed) return;
    this.socket.send(bytes, to.port, to.host);
  }

  private transact(req: SipRequest): Promise<SipResponse> {
    const callId = req.headers.get('Call-ID') ?? '';
    const bytes = bytesOf(req);
    return new Promise((resolve, reject) => {
      let tries = 0;
      const timer = setInterval(() => {
        if (++tries > 6) {
          clearInterval(timer);
          this.pendingNonInvite.delete(callId);
          reject(new Error(`no response to ${req.method}`));
        } else this.send(bytes);
      }, 1000);
      this.pendingNonInvite.set(callId, (r) => {
        clearInterval(timer);
        resolve(r);
      });
      this.send(bytes);
    });
  }

  /** REGISTER (digest) and, with `groups`, PUBLISH of the affiliations; keeps the nonce for INVITEs. */
  async register(groups?: string[]): Promise<void> {
    const callId = `${rand(10)}@bench-caller`;
    const tag = rand();
    const reg = (seq: number, authorization?: string) =>
      buildRequest({
        method: 'REGISTER',
        uri: `sip:${this.o.domain}`,
        local: { host: HOST, port: this.port },
        from: `<${this.aor}>;tag=${tag}`,
        to: `<${this.aor}>`,
        callId,
        cseq: seq,
        contact: this.contact,
        headers: [
          ['Expires', '3600'],
          ...(authorization ? ([['Authorization', authorization]] as [string, string][]) : []),
        ],
      });
    let res = await this.transact(reg(1));
    const offer = res.headers.get('WWW-Authenticate');
    if (res.status === 401 && offer && this.o.password !== undefined) {
      this.challenge = parseDigestChallenge(offer);
      res = await this.transact(
        reg(
          2,
          answerDigestChallenge(this.challenge, {
            username: this.o.user,
            password: this.o.password,
            method: 'REGISTER',
            uri: `sip:${this.o.domain}`,
          }),
        ),
      );
    }
    if (res.status !== 200) throw new Error(`caller REGISTER: ${res.status} ${res.reason}`);
    if (!groups) return;
    const body = serializeAffiliationPidf({
      entity: this.aor,
      clientId: 'caller-bench',
      affiliations: groups.map((groupId) => ({ groupId, expiresAt: Date.now() + 3_600_000 })),
    });
    const pub = await this.transact(
      buildRequest({
        method: 'PUBLISH',
        uri: this.aor,
        local: { host: HOST, port: this.port },
        from: `<${this.aor}>;tag=${rand()}`,
        to: `<${this.aor}>`,
        callId: `${rand(10)}@bench-caller`,
        cseq: 1,
        headers: [
          ['Event', 'presence'],
          ['Expires', '3600'],
          ...(this.challenge && this.o.password !== undefined
            ? ([
                [
                  'Authorization',
                  answerDigestChallenge(this.challenge, {
                    username: this.o.user,
                    password: this.o.password,
                    method: 'PUBLISH',
                    uri: this.aor,
                  }),
                ],
              ] as [string, string][])
            : []),
        ],
        body,
        contentType: 'application/pidf+xml',
      }),
    );
    if (pub.status !== 200) throw new Error(`caller PUBLISH: ${pub.status} ${pub.reason}`);
  }

  private inviteFor(requestUri: string, callId: string, cseq: number, fromTag: string): SipRequest {
    return buildRequest({
      method: 'INVITE',
      uri: requestUri,
      local: { host: HOST, port: this.port },
      from: `<${this.aor}>;tag=${fromTag}`,
      to: `<${requestUri.replace(/:\d+$/, '')}>`,
      callId,
      cseq,
      contact: this.contact,
      headers:
        this.o.mode === 'ours' && this.challenge && this.o.password !== undefined
          ? [
              [
                'Proxy-Authorization',
                answerDigestChallenge(this.challenge, {
                  username: this.o.user,
                  password: this.o.password,
                  method: 'INVITE',
                  uri: requestUri,
                }),
              ],
            ]
          : [],
      body: sdp(this.o.user),
      contentType: 'application/sdp',
    });
  }

  /** Sends one INVITE now; its record completes later. */
  call(requestUri: string): CallRecord {
    const callId = `${rand(10)}@bench-caller`;
    const invite = this.inviteFor(requestUri, callId, 1, rand());
    const record: CallRecord = {
      sipCallId: callId,
      sentAt: preciseNow(),
      rings: 0,
      challenged: false,
      retransmissions: 0,
      ok: false,
    };
    const live: LiveCall = {
      record,
      invite,
      bytes: bytesOf(invite),
      t0: performance.now(),
      gotResponse: false,
      done: false,
    };
    this.live.set(callId, live);
    this.sendInvite(live);
    return record;
  }

  private sendInvite(live: LiveCall): void {
    live.gotResponse = false;
    let interval = 500;
    const again = () => {
      if (live.gotResponse || live.done) return;
      live.record.retransmissions++;
      this.send(live.bytes);
      interval = Math.min(interval * 2, 4000);
      live.timer = setTimeout(again, interval);
    };
    this.send(live.bytes);
    live.timer = setTimeout(again, interval);
  }

  private finish(live: LiveCall, res: SipResponse | undefined, reason?: string): void {
    if (live.done) return;
    live.done = true;
    clearTimeout(live.timer);
    const r = live.record;
    r.finalMs = performance.now() - live.t0;
    if (res) {
      r.status = res.status;
      r.reason = res.reason;
      const warning = res.headers.get('Warning');
      if (warning) r.warning = warning;
    } else r.reason = reason ?? 'timeout';
    // Kamailio: its final response comes once every branch answered. (Not every 180 reaches the caller:
    // a 180 handled by one worker after another worker relayed the transaction's final is dropped.)
    r.ok =
      this.o.mode === 'ours' ? r.status !== undefined && r.status >= 200 && r.status < 300 : r.status === 486;
  }

  private receive(buf: Buffer): void {
    const p = peek(buf);
    if (p.status === undefined || !p.callId) return; // requests to the caller: none expected
    const live = this.live.get(p.callId);
    if (!live) {
      const waiter = this.pendingNonInvite.get(p.callId);
      if (waiter && p.status >= 200) {
        const parsed = parseMessage(buf);
        if (parsed.ok && parsed.message.kind === 'response') {
          this.pendingNonInvite.delete(p.callId);
          waiter(parsed.message);
        }
      }
      return;
    }
    if (p.cseqMethod === 'BYE') {
      if (p.status >= 200) live.record.byeStatus = p.status;
      return;
    }
    if (p.cseqMethod !== 'INVITE') return;
    live.gotResponse = true;
    clearTimeout(live.timer);
    if (p.status < 200) {
      if (p.status === 180) {
        live.record.rings++;
        live.record.firstRingMs ??= performance.now() - live.t0;
      }
      return;
    }
    const parsed = parseMessage(buf);
    if (!parsed.ok || parsed.message.kind !== 'response') return;
    const res = parsed.message;
    if (res.status >= 300) {
      // ACK every non-2xx final, retransmissions too (§17.1.1.3).
      this.send(bytesOf(buildAckForFailure(live.invite, res)));
      if (res.status === 407 && !live.record.challenged && !live.done) {
        const challenge = readChallenge(res.headers.get('Proxy-Authenticate'));
        if (challenge) {
          live.record.challenged = true;
          this.challenge = challenge;
          const from = live.invite.headers.get('From') ?? '';
          const fromTag = /;tag=([^;]+)/.exec(from)?.[1] ?? rand();
          live.invite = this.inviteFor(live.invite.uri, live.record.sipCallId, 2, fromTag);
          live.bytes = bytesOf(live.invite);
          this.sendInvite(live);
          return;
        }
      }
      this.finish(live, res);
      return;
    }
    // 2xx: ACK (also a retransmitted 200), then BYE once.
    if (!live.acked) {
      let target = live.invite.uri;
      try {
        target = parseNameAddr(res.headers.get('Contact') ?? '', 'Contact').uri;
      } catch {
        // keep the Request-URI
      }
      const base = {
        uri: target,
        local: { host: HOST, port: this.port },
        from: live.invite.headers.get('From') ?? '',
        to: res.headers.get('To') ?? '',
        callId: live.record.sipCallId,
      };
      const inviteSeq = Number((live.invite.headers.get('CSeq') ?? '1').split(' ')[0]);
      live.acked = bytesOf(buildRequest({ ...base, method: 'ACK', cseq: inviteSeq }));
      this.send(live.acked);
      const bye = bytesOf(buildRequest({ ...base, method: 'BYE', cseq: inviteSeq + 1 }));
      this.send(bye);
      setTimeout(() => {
        if (live.record.byeStatus === undefined) this.send(bye);
      }, 1000).unref();
    } else this.send(live.acked);
    this.finish(live, res);
  }

  /** `count` calls, each placed once the previous one has its final response (warm-up). */
  async sequential(requestUri: string, count: number): Promise<{ records: CallRecord[] }> {
    const records: CallRecord[] = [];
    for (let i = 0; i < count; i++) records.push(...(await this.run(requestUri, 1, 1)).records);
    return { records };
  }

  /**
   * Places calls to `requestUri` at `rate` per second for `durationS` seconds, then waits for their
   * final responses. Offering stops early when the system falls behind (`saturated`): a call unanswered
   * after `maxAgeMs`. Returns the records and whether offering stopped early.
   */
  async run(
    requestUri: string,
    rate: number,
    durationS: number,
    maxAgeMs = 15_000,
  ): Promise<{ records: CallRecord[]; saturated: string | undefined; offeredS: number }> {
    const records: CallRecord[] = [];
    const started = performance.now();
    const interval = 1000 / rate;
    let saturated: string | undefined;
    for (let k = 0; ; k++) {
      if (k * interval >= durationS * 1000 - 1e-6) break;
      const due = started + k * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const oldest = [...this.live.values()].find((l) => !l.done);
      if (oldest && performance.now() - oldest.t0 > maxAgeMs) {
        saturated = `a call was still unanswered after ${maxAgeMs / 1000} s; offering stopped after ${k} calls`;
        break;
      }
      records.push(this.call(requestUri));
    }
    const offeredS = (performance.now() - started) / 1000;
    // Wait for every final response (each call gives up CALL_TIMEOUT_MS after its INVITE).
    for (;;) {
      const open = [...this.live.values()].filter((l) => !l.done);
      if (open.length === 0) break;
      for (const l of open)
        if (performance.now() - l.t0 > CALL_TIMEOUT_MS) this.finish(l, undefined, 'timeout');
      await sleep(100);
    }
    await sleep(300); // BYE responses
    this.live.clear();
    return { records, saturated, offeredS };
  }
}
