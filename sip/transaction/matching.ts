/**
 * Transaction keys (RFC 3261 §17.1.3, §17.2.3). A message matches a transaction when the key
 * computed from it equals the transaction's key, so lookups are one Map access.
 *
 * - Client side (§17.1.3): branch of the top Via + CSeq method.
 * - Server side with an RFC 3261 branch (§17.2.3, "z9hG4bK" + something): branch + sent-by of the
 *   top Via + method, ACK counting as INVITE. CANCEL has its own key (same branch, method CANCEL).
 * - Server side without it (RFC 2543 fallback, §17.2.3): Request-URI, To tag, From tag, Call-ID,
 *   CSeq and top Via. An ACK matches an INVITE transaction on Request-URI, From tag, Call-ID, CSeq
 *   number and top Via, with its To tag equal to the To tag of the response the transaction sent;
 *   for that the INVITE transaction is filed a second time under an "ACK key" without the To tag.
 *
 * Branches and parameter values are tokens, compared case-insensitively (§7.3.1), so they are
 * lower-cased in keys. The `received` and `rport` Via parameters are left out of RFC 2543 keys:
 * they are written by our own transport on receipt (§18.2.1), not by the sender.
 */
import { type CSeq, callIdOf, cseqOf, fromTag, toTag, type Via, viaBranch } from '../message/accessors.ts';
import type { SipRequest } from '../message/types.ts';
import { MAGIC_COOKIE } from './random.ts';

const SEP = '\u0001';

/**
 * True when `branch` is an RFC 3261 transaction id: it starts with the magic cookie and has
 * something after it. A bare `z9hG4bK` (the RFC 4475 "badbranch" torture message) identifies
 * nothing, so such requests fall back to RFC 2543 matching.
 */
export const isRfc3261Branch = (branch: string | undefined): branch is string =>
  branch !== undefined &&
  branch.length > MAGIC_COOKIE.length &&
  branch.slice(0, MAGIC_COOKIE.length).toLowerCase() === MAGIC_COOKIE.toLowerCase();

/** Client transaction key (§17.1.3): branch + CSeq method. */
export const clientKey = (branch: string, method: string): string => `${branch.toLowerCase()}${SEP}${method}`;

/** `host:port` of a Via, host lower-cased, port as written ('' when absent). */
const sentBy = (via: Via): string => `${via.host.toLowerCase()}:${via.port ?? ''}`;

/** Server transaction key for an RFC 3261 branch (§17.2.3). `method` must already map ACK → INVITE. */
export const serverKey = (branch: string, via: Via, method: string): string =>
  `${method}${SEP}${branch.toLowerCase()}${SEP}${sentBy(via)}`;

/** A normalized top Via for RFC 2543 comparison (§20.42), without received/rport. */
const viaIdentity = (via: Via): string => {
  const params: string[] = [];
  for (const [k, v] of via.params) {
    if (k === 'received' || k === 'rport') continue;
    params.push(v === null ? k : `${k}=${v.toLowerCase()}`);
  }
  params.sort();
  return `${via.protocol}/${via.transport} ${sentBy(via)};${params.join(';')}`;
};

/**
 * RFC 2543 fallback key (§17.2.3). `toTagValue === null` leaves the To tag out (the ACK key of an
 * INVITE transaction). `method` is the transaction's method (ACK and CANCEL look up 'INVITE').
 */
export const rfc2543Key = (
  method: string,
  req: SipRequest,
  via: Via,
  cseq: CSeq,
  toTagValue: string | undefined | null,
): string =>
  [
    '2543',
    method,
    req.uri,
    toTagValue === null ? '*' : (toTagValue ?? ''),
    fromTag(req) ?? '',
    callIdOf(req),
    String(cseq.seq),
    viaIdentity(via),
  ].join(SEP);

/** The keys a server transaction created by `req` is filed under. */
export interface ServerKeys {
  key: string;
  /** RFC 2543 INVITE only: the ACK-matching key (no To tag). */
  ackKey?: string;
  rfc2543: boolean;
}

/**
 * Keys of the server transaction `req` belongs to or would create (§17.2.3). For ACK the key is
 * the one of the INVITE transaction it would match: for RFC 2543 requests that is the ACK key.
 * Throws SipParseError when an RFC 2543 request has no parseable CSeq.
 */
export const serverKeysOf = (req: SipRequest, via: Via): ServerKeys => {
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const branch = viaBranch(via);
  if (isRfc3261Branch(branch)) return { key: serverKey(branch, via, method), rfc2543: false };
  const cseq = cseqOf(req);
  if (req.method === 'ACK') return { key: rfc2543Key('INVITE', req, via, cseq, null), rfc2543: true };
  const key = rfc2543Key(method, req, via, cseq, toTag(req));
  if (method === 'INVITE') return { key, ackKey: rfc2543Key('INVITE', req, via, cseq, null), rfc2543: true };
  return { key, rfc2543: true };
};

/**
 * The key of the INVITE server transaction a CANCEL matches (§9.2: apply §17.2.3 as if the
 * CANCEL's method were INVITE). Throws SipParseError when an RFC 2543 CANCEL has no parseable CSeq.
 */
export const inviteKeyForCancel = (cancel: SipRequest, via: Via): string => {
  const branch = viaBranch(via);
  if (isRfc3261Branch(branch)) return serverKey(branch, via, 'INVITE');
  return rfc2543Key('INVITE', cancel, via, cseqOf(cancel), toTag(cancel));
};
