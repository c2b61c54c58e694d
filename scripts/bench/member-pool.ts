/**
 * Child process of scripts/bench.ts: the group's members as one light SIP user agent pool. Many users
 * share a few UDP sockets on 127.0.0.1 (user i on socket i mod K; each user's Contact is
 * `sip:<user>@127.0.0.1:<port of its socket>`, so requests are told apart by their Request-URI user).
 * It runs in its own process so that its CPU is not counted as the server's.
 *
 * - `register`: REGISTER per item (digest answered with sip/auth/digest.ts when challenged), then
 *   PUBLISH of the member's affiliations (TS 24.379 PIDF, core/affiliation-pidf.ts) with digest,
 *   reusing the nonce of the REGISTER challenge; a bounded number in flight; retransmitted over UDP.
 *   Items may also name an explicit Contact (Kamailio's inner fork nodes point back at Kamailio).
 * - Requests received: INVITE → `200 OK` with SDP at once (mode `ok`), or `180 Ringing` then
 *   `486 Busy Here` (mode `ring-busy`, the Kamailio baseline: see scripts/bench/kamailio.ts); a
 *   retransmitted INVITE gets the same responses again; the final response is retransmitted until its
 *   ACK comes (RFC 3261 §13.3.1.4 for a 2xx, Timer G for a 486: 0.5, 1, 2, 4, 4… s, for 32 s), so a
 *   datagram lost in a burst costs time, not the call; BYE, CANCEL, MESSAGE, OPTIONS, NOTIFY → 200.
 *
 *   node --import tsx scripts/bench/member-pool.ts   (driven over IPC by scripts/bench.ts)
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import {
  answerDigestChallenge,
  type DigestChallenge,
  parseDigestChallenge,
} from '../../sip/auth/digest-client.ts';
import { createResponse } from '../../sip/message/accessors.ts';
import { parseMessage } from '../../sip/message/parser.ts';
import { serializeMessage } from '../../sip/message/serializer.ts';
import type { SipRequest, SipResponse } from '../../sip/message/types.ts';
import { HOST, serveIpc } from './common.ts';
import { buildRequest, bytesOf, rand, sdp } from './sip-lite.ts';

export type AnswerMode = 'ok' | 'ring-busy';

export interface RegistrationItem {
  /** Index of the member whose socket and Contact are used; absent: socket 0 and `contact`. */
  member?: number;
  aor: { user: string; domain: string };
  registrar: { host: string; port: number };
  /** Contact URI when it is not the member's own. */
  contact?: string;
  /** Digest credentials (username = AOR user). */
  password?: string;
  /** Groups (SIP URIs) to affiliate to with PUBLISH after the REGISTER. */
  publishGroups?: string[];
  expires?: number;
}

export interface PoolStats {
  cpuUs: number;
  rssBytes: number;
  received: number;
  invites: number;
  inviteRetransmissions: number;
  acks: number;
  byes: number;
  cancels: number;
  messages: number;
  others: number;
  unknownUser: number;
  unparseable: number;
  lastUnparseable?: string;
  sent: number;
  sendErrors: number;
  /** Final responses sent again because their ACK had not come yet. */
  finalRetransmissions: number;
  /** Final responses whose ACK never came (given up after 32 s). */
  finalsUnacknowledged: number;
}

interface Member {
  user: string;
  socket: number;
  contact: string;
}

let sockets: Socket[] = [];
let ports: number[] = [];
const members: Member[] = [];
const byUser = new Map<string, Member>();
let mode: AnswerMode = 'ok';

const stats: Omit<PoolStats, 'cpuUs' | 'rssBytes'> & { lastUnparseable?: string } = {
  received: 0,
  invites: 0,
  inviteRetransmissions: 0,
  acks: 0,
  byes: 0,
  cancels: 0,
  messages: 0,
  others: 0,
  unknownUser: 0,
  unparseable: 0,
  sent: 0,
  sendErrors: 0,
  finalRetransmissions: 0,
  finalsUnacknowledged: 0,
};

const send = (socket: Socket, bytes: Buffer, to: { port: number; address: string }) => {
  stats.sent++;
  socket.send(bytes, to.port, to.address, (e) => {
    if (e) stats.sendErrors++;
  });
};

// ---------------------------------------------------------------- answers (UAS)

/** Responses already sent to an INVITE (key: top Via, Call-ID, CSeq), kept ~32 s for its retransmissions. */
let answered = new Map<string, Buffer[]>();
let answeredBefore = new Map<string, Buffer[]>();
setInterval(() => {
  answeredBefore = answered;
  answered = new Map();
}, 32_000).unref();

const userOf = (uri: string): string | undefined => /^sips?:([^@;:]+)@/i.exec(uri)?.[1];

/** Final responses waiting for their ACK, by `Call-ID|To tag` (unique per answered INVITE). */
const awaitingAck = new Map<
  string,
  { bytes: Buffer; socket: Socket; to: RemoteInfo; due: number; interval: number; until: number }
>();
setInterval(() => {
  const now = performance.now();
  for (const [key, f] of awaitingAck) {
    if (now >= f.until) {
      awaitingAck.delete(key);
      stats.finalsUnacknowledged++;
    } else if (now >= f.due) {
      stats.finalRetransmissions++;
      send(f.socket, f.bytes, f.to);
      f.interval = Math.min(f.interval * 2, 4000);
      f.due = now + f.interval;
    }
  }
}, 100).unref();

const tagOfTo = (to: string | undefined): string => /;\s*tag=([^;>\s]+)/i.exec(to ?? '')?.[1] ?? '';

const answerInvite = (req: SipRequest, socket: Socket, from: RemoteInfo) => {
  // A forking proxy sends every branch with the same Call-ID and CSeq: the transaction is the top Via's.
  const key = `${req.headers.get('Via')}|${req.headers.get('Call-ID')}|${req.headers.get('CSeq')}`;
  const again = answered.get(key) ?? answeredBefore.get(key);
  if (again) {
    stats.inviteRetransmissions++;
    for (const b of again) send(socket, b, from);
    return;
  }
  const user = userOf(req.uri);
  const member = user !== undefined ? byUser.get(user) : undefined;
  if (!member) {
    stats.unknownUser++;
    send(socket, serializeMessage(createResponse(req, 404, undefined, { toTag: rand() })), from);
    return;
  }
  stats.invites++;
  const toTag = rand();
  const out: SipResponse[] =
    mode === 'ok'
      ? [
          createResponse(req, 200, 'OK', {
            toTag,
            headers: [['Contact', `<${member.contact}>`]],
            body: Buffer.from(sdp(member.user, 49180)),
            contentType: 'application/sdp',
          }),
        ]
      : [
          createResponse(req, 180, 'Ringing', { toTag, headers: [['Contact', `<${member.contact}>`]] }),
          createResponse(req, 486, 'Busy Here', { toTag }),
        ];
  const bytes = out.map(serializeMessage);
  answered.set(key, bytes);
  for (const b of bytes) send(socket, b, from);
  const final = bytes[bytes.length - 1] as Buffer;
  const now = performance.now();
  awaitingAck.set(`${req.headers.get('Call-ID')}|${toTag}`, {
    bytes: final,
    socket,
    to: from,
    due: now + 500,
    interval: 500,
    until: now + 32_000,
  });
};

const onRequest = (req: SipRequest, socket: Socket, from: RemoteInfo) => {
  switch (req.method) {
    case 'INVITE':
      answerInvite(req, socket, from);
      return;
    case 'ACK':
      stats.acks++;
      awaitingAck.delete(`${req.headers.get('Call-ID')}|${tagOfTo(req.headers.get('To'))}`);
      return;
    case 'BYE':
      stats.byes++;
      break;
    case 'CANCEL':
      stats.cancels++;
      break;
    case 'MESSAGE':
      stats.messages++;
      break;
    default:
      stats.others++;
  }
  send(socket, serializeMessage(createResponse(req, 200, 'OK', { toTag: rand() })), from);
};

// ---------------------------------------------------------------- requests (UAC): REGISTER, PUBLISH

const pending = new Map<string, { resolve(r: SipResponse): void }>();

const onResponse = (res: SipResponse) => {
  if (res.status < 200) return;
  const callId = res.headers.get('Call-ID') ?? '';
  const p = pending.get(callId);
  if (!p) return;
  pending.delete(callId);
  p.resolve(res);
};

/** Sends a request (retransmitted at 0.5, 1, 2, 4, 4… s, RFC 3261 Timer E) until a final response. */
const transact = (
  socket: Socket,
  req: SipRequest,
  to: { host: string; port: number },
): Promise<SipResponse> => {
  const bytes = bytesOf(req);
  const callId = req.headers.get('Call-ID') ?? '';
  return new Promise((resolve, reject) => {
    let interval = 500;
    let elapsed = 0;
    let timer: NodeJS.Timeout;
    const again = () => {
      if (!pending.has(callId)) return;
      if (elapsed >= 32_000) {
        pending.delete(callId);
        reject(new Error(`no final response to ${req.method} for ${req.headers.get('To')}`));
        return;
      }
      send(socket, bytes, { port: to.port, address: to.host });
      timer = setTimeout(again, interval);
      elapsed += interval;
      interval = Math.min(interval * 2, 4000);
    };
    pending.set(callId, {
      resolve: (r) => {
        clearTimeout(timer);
        resolve(r);
      },
    });
    again();
  });
};

const registerOne = async (item: RegistrationItem): Promise<void> => {
  const member = item.member !== undefined ? members[item.member] : undefined;
  const socketIndex = member?.socket ?? 0;
  const socket = sockets[socketIndex];
  if (!socket) throw new Error('no socket');
  const local = { host: HOST, port: ports[socketIndex] ?? 0 };
  const contact = item.contact ?? member?.contact;
  if (!contact) throw new Error(`registration of ${item.aor.user} names no contact`);
  const aor = `sip:${item.aor.user}@${item.aor.domain}`;
  const callId = `${rand(10)}@bench-pool`;
  const fromTag = rand();
  let cseq = 1;
  const register = (authorization?: string) =>
    buildRequest({
      method: 'REGISTER',
      uri: `sip:${item.aor.domain}`,
      local,
      from: `<${aor}>;tag=${fromTag}`,
      to: `<${aor}>`,
      callId,
      cseq: cseq++,
      contact,
      headers: [
        ['Expires', String(item.expires ?? 3600)],
        ...(authorization ? ([['Authorization', authorization]] as [string, string][]) : []),
      ],
    });
  let res = await transact(socket, register(), item.registrar);
  let challenge: DigestChallenge | undefined;
  const answer = (r: SipResponse, method: string, uri: string): string | undefined => {
    const offer = r.headers.get('WWW-Authenticate');
    if (r.status !== 401 || !offer || item.password === undefined) return undefined;
    challenge = parseDigestChallenge(offer);
    return answerDigestChallenge(challenge, {
      username: item.aor.user,
      password: item.password,
      method,
      uri,
    });
  };
  const auth = answer(res, 'REGISTER', `sip:${item.aor.domain}`);
  if (auth) res = await transact(socket, register(auth), item.registrar);
  if (res.status !== 200) throw new Error(`REGISTER ${aor}: ${res.status} ${res.reason}`);
  if (!item.publishGroups) return;

  const body = serializeAffiliationPidf({
    entity: aor,
    clientId: `${item.aor.user}-bench`,
    affiliations: item.publishGroups.map((groupId) => ({ groupId, expiresAt: Date.now() + 3_600_000 })),
  });
  const publishCallId = `${rand(10)}@bench-pool`;
  let publishSeq = 1;
  const publish = (authorization?: string) =>
    buildRequest({
      method: 'PUBLISH',
      uri: aor,
      local,
      from: `<${aor}>;tag=${rand()}`,
      to: `<${aor}>`,
      callId: publishCallId,
      cseq: publishSeq++,
      headers: [
        ['Event', 'presence'],
        ['Expires', '3600'],
        ...(authorization ? ([['Authorization', authorization]] as [string, string][]) : []),
      ],
      body,
      contentType: 'application/pidf+xml',
    });
  const pre =
    challenge && item.password !== undefined
      ? answerDigestChallenge(challenge, {
          username: item.aor.user,
          password: item.password,
          method: 'PUBLISH',
          uri: aor,
        })
      : undefined;
  let pub = await transact(socket, publish(pre), item.registrar);
  const again = answer(pub, 'PUBLISH', aor);
  if (again) pub = await transact(socket, publish(again), item.registrar);
  if (pub.status !== 200) throw new Error(`PUBLISH ${aor}: ${pub.status} ${pub.reason}`);
};

// ---------------------------------------------------------------- driver requests

serveIpc({
  init: async (msg) => {
    const count = Number(msg.sockets ?? 8);
    sockets = [];
    ports = [];
    for (let i = 0; i < count; i++) {
      const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(0, HOST, () => res());
      });
      const index = i;
      s.on('message', (raw, from) => {
        stats.received++;
        const parsed = parseMessage(raw);
        if (!parsed.ok) {
          stats.unparseable++;
          stats.lastUnparseable = `${parsed.error}: ${raw.toString('latin1', 0, 200)}`;
          return;
        }
        if (parsed.message.kind === 'response') onResponse(parsed.message);
        else onRequest(parsed.message, sockets[index] as Socket, from);
      });
      sockets.push(s);
      ports.push(s.address().port);
    }
    for (const [i, user] of (msg.users as string[]).entries()) {
      const socket = i % count;
      const m = { user, socket, contact: `sip:${user}@${HOST}:${ports[socket]}` };
      members.push(m);
      byUser.set(user, m);
    }
    mode = (msg.mode as AnswerMode | undefined) ?? 'ok';
    return { ports, contacts: members.map((m) => m.contact) };
  },
  mode: (msg) => {
    mode = msg.mode as AnswerMode;
    return {};
  },
  register: async (msg) => {
    const items = msg.items as RegistrationItem[];
    const concurrency = Number(msg.concurrency ?? 20);
    const started = performance.now();
    let next = 0;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++] as RegistrationItem;
        try {
          await registerOne(item);
          ok++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return { ok, failed: failures.length, failures: failures.slice(0, 5), ms: performance.now() - started };
  },
  /** Forgets answers and retransmissions of calls whose server is gone (between runs). */
  forget: () => {
    awaitingAck.clear();
    answered.clear();
    answeredBefore.clear();
    return {};
  },
  stats: () => {
    const cpu = process.cpuUsage();
    const s: PoolStats = { ...stats, cpuUs: cpu.user + cpu.system, rssBytes: process.memoryUsage.rss() };
    return { stats: s };
  },
  stop: () => {
    for (const s of sockets) s.close();
    setTimeout(() => process.exit(0), 20);
    return {};
  },
});

process.send?.({ type: 'ready', pid: process.pid });
