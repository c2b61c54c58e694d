/**
 * The checks every request passes before the edge acts on it (RFC 3261 §8.2, §16.3), each
 * answered with the status the RFC names. Pure: request in, error response (or nothing) out.
 */
import { createResponse, splitHeaderValues } from '../sip/message/accessors.ts';
import type { SipRequest, SipResponse } from '../sip/message/types.ts';

/** Methods the edge implements. */
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PUBLISH'];
/** Methods defined by SIP extensions that we recognize but do not support here: 405, not 501. */
const KNOWN_UNSUPPORTED = ['SUBSCRIBE', 'NOTIFY', 'REFER', 'INFO', 'UPDATE', 'PRACK', 'MESSAGE'];
/** Option tags we support (RFC 3261 §19.2). */
export const SUPPORTED_OPTIONS: string[] = [];
/** Body types we accept, per method family. */
export const ACCEPTED_TYPES = [
  'application/sdp',
  'multipart/mixed',
  'application/pidf+xml',
  'application/vnd.3gpp.mcptt-info+xml',
  'text/plain',
];

const allowHeader = ALLOWED_METHODS.join(', ');

const mediaType = (value: string): string => (value.split(';')[0] ?? '').trim().toLowerCase();

/** Every value of a comma-list header (all fields), trimmed. */
const listValues = (req: SipRequest, name: string): string[] =>
  req.headers
    .getAll(name)
    .flatMap((v) => splitHeaderValues(v))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);

export const checkRequest = (req: SipRequest): SipResponse | undefined => {
  const method = req.method;
  // §8.2.1: method inspection.
  if (!ALLOWED_METHODS.includes(method)) {
    if (KNOWN_UNSUPPORTED.includes(method)) {
      return createResponse(req, 405, 'Method Not Allowed', { headers: [['Allow', allowHeader]] });
    }
    return createResponse(req, 501, 'Not Implemented', { headers: [['Allow', allowHeader]] });
  }
  // §16.3 step 3 / RFC 4475 §3.3.11: nothing is forwarded with Max-Forwards 0.
  const maxForwards = req.headers.get('Max-Forwards');
  if (maxForwards !== undefined && Number(maxForwards.trim()) === 0 && method !== 'ACK') {
    return createResponse(req, 483, 'Too Many Hops');
  }
  // §8.2.2.1: Request-URI scheme.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(req.uri)?.[1]?.toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') {
    return createResponse(req, 416, 'Unsupported URI Scheme');
  }
  // §8.2.2.3: Require (not for ACK and CANCEL).
  if (method !== 'ACK' && method !== 'CANCEL') {
    const unsupported = listValues(req, 'Require').filter(
      (t) => !SUPPORTED_OPTIONS.includes(t.toLowerCase()),
    );
    if (unsupported.length > 0) {
      return createResponse(req, 420, 'Bad Extension', {
        headers: [['Unsupported', unsupported.join(', ')]],
      });
    }
  }
  // §8.2.3: content processing.
  if (req.body.length > 0 && method !== 'ACK') {
    const type = req.headers.get('Content-Type');
    if (!type || !ACCEPTED_TYPES.includes(mediaType(type))) {
      return createResponse(req, 415, 'Unsupported Media Type', {
        headers: [['Accept', ACCEPTED_TYPES.join(', ')]],
      });
    }
    const encodings = listValues(req, 'Content-Encoding').filter((e) => e.toLowerCase() !== 'identity');
    if (encodings.length > 0) {
      return createResponse(req, 415, 'Unsupported Media Type', {
        headers: [['Accept-Encoding', 'identity']],
      });
    }
  }
  // §21.4.7: an INVITE whose answer body the caller cannot accept (RFC 4475 §3.3.15).
  if (method === 'INVITE') {
    const accept = listValues(req, 'Accept').map(mediaType);
    if (
      accept.length > 0 &&
      !accept.some(
        (t) => t === 'application/sdp' || t === '*/*' || t === 'application/*' || t === 'multipart/mixed',
      )
    ) {
      return createResponse(req, 406, 'Not Acceptable', {
        headers: [['Accept', 'application/sdp, multipart/mixed']],
      });
    }
  }
  return undefined;
};
