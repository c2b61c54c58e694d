/**
 * Requests the transaction layer builds from another request: the ACK for a non-2xx final response
 * (RFC 3261 §17.1.1.3) and CANCEL (§9.1); and the skeleton of a message a transaction keeps while it
 * waits out its last timer.
 */
import { cseqOf, splitHeaderValues } from '../message/accessors.ts';
import {
  EMPTY_BODY,
  SipHeaders,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../message/types.ts';

/** The first via-parm of the first Via field, as written (the "top Via" value). */
const topViaValue = (req: SipRequest): string => {
  const first = req.headers.get('Via');
  const v = first === undefined ? undefined : splitHeaderValues(first)[0];
  if (v === undefined) throw new Error('request has no Via header field (RFC 3261 §8.1.1.7)');
  return v;
};

const copyRoutes = (from: SipRequest, to: SipHeaders): void => {
  for (const v of from.headers.getAll('Route')) to.add('Route', v);
};

/**
 * Builds the ACK a client INVITE transaction sends for a 300–699 response (RFC 3261 §17.1.1.3):
 * Request-URI, Call-ID and From equal to the INVITE's; To equal to the response's (with its tag);
 * a single Via equal to the INVITE's top Via (so the same branch); CSeq with the INVITE's number and
 * method ACK; the INVITE's Route header fields; Max-Forwards 70 (§8.1.1.6). No body.
 */
export const buildAckForFailure = (invite: SipRequest, response: SipResponse): SipRequest => {
  const headers = new SipHeaders();
  headers.add('Via', topViaValue(invite));
  copyRoutes(invite, headers);
  headers.add('Max-Forwards', '70');
  const from = invite.headers.get('From');
  if (from !== undefined) headers.add('From', from);
  const to = response.headers.get('To') ?? invite.headers.get('To');
  if (to !== undefined) headers.add('To', to);
  const callId = invite.headers.get('Call-ID');
  if (callId !== undefined) headers.add('Call-ID', callId);
  headers.add('CSeq', `${cseqOf(invite).seq} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, version: 'SIP/2.0', headers, body: EMPTY_BODY };
};

/**
 * Builds a CANCEL for `invite` (RFC 3261 §9.1): the same Request-URI, Call-ID, To, From (tags
 * included) and CSeq number, with CSeq method CANCEL; a single Via equal to the INVITE's top Via
 * (same branch, so the server matches it to the INVITE, §9.2); the INVITE's Route header fields;
 * Max-Forwards 70. No body. Throws when the INVITE has no Via or no parseable CSeq.
 *
 * §9.1 also says a CANCEL must not be sent before a provisional response arrived; see
 * `TransactionLayer.cancel`, which enforces that.
 */
export const buildCancel = (invite: SipRequest): SipRequest => {
  const headers = new SipHeaders();
  headers.add('Via', topViaValue(invite));
  copyRoutes(invite, headers);
  headers.add('Max-Forwards', '70');
  const from = invite.headers.get('From');
  if (from !== undefined) headers.add('From', from);
  const to = invite.headers.get('To');
  if (to !== undefined) headers.add('To', to);
  const callId = invite.headers.get('Call-ID');
  if (callId !== undefined) headers.add('Call-ID', callId);
  headers.add('CSeq', `${cseqOf(invite).seq} CANCEL`);
  return {
    kind: 'request',
    method: 'CANCEL',
    uri: invite.uri,
    version: 'SIP/2.0',
    headers,
    body: EMPTY_BODY,
  };
};

/**
 * The header fields a message is still read for once its transaction has its final response: the
 * fields a response copies from its request (§8.2.6.2: Via, From, To, Call-ID, CSeq; To carries the
 * tag) and the Route set an ACK or CANCEL repeats (§17.1.1.3, §9.1).
 */
const SKELETON_FIELDS: ReadonlySet<string> = new Set(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Route']);

/**
 * `m` with only {@link SKELETON_FIELDS} and no body. A transaction in Completed, Confirmed or Accepted
 * waits up to 64*T1 (32 s over UDP) only to absorb retransmissions (§17.1.1.2, §17.2.1, §17.2.2,
 * RFC 6026 §7.1, §8.4); keeping the whole INVITE, its body and every other field that long would hold
 * 32 s of every call's messages in memory for nothing.
 */
export const skeletonOf = <M extends SipMessage>(m: M): M => ({
  ...m,
  headers: m.headers.pick(SKELETON_FIELDS),
  body: EMPTY_BODY,
});
