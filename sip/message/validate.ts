/**
 * Grammar checks for individual header fields (RFC 3261 §20, ABNF §25.1) used by the parser, and
 * the message-level checks that RFC 4475 §3.3 leaves to the application (missing or repeated
 * single-valued header fields → 400).
 */
import { MAX_UINT32, parseCSeq, parseNameAddr, parseNameAddrList, parseVia } from './accessors.ts';
import {
  inTable,
  isDigits,
  parseBoundedInt,
  parseParams,
  SipParseError,
  scanToken,
  skipWs,
  WORD_CHARS,
} from './grammar.ts';
import type { SipRequest } from './types.ts';

/** RFC 3261 §25.1: callid = word [ "@" word ]. */
const checkCallId = (v: string): void => {
  const at = v.indexOf('@');
  const parts = at < 0 ? [v] : [v.slice(0, at), v.slice(at + 1)];
  for (const p of parts) {
    if (p.length === 0) throw new SipParseError('Call-ID: empty word');
    for (let i = 0; i < p.length; i++)
      if (!inTable(WORD_CHARS, p.charCodeAt(i))) throw new SipParseError('Call-ID: invalid character');
  }
};

/** RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). */
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** RFC 3261 §20.10 Contact = ( STAR / (contact-param *(COMMA contact-param))); contact-params q / expires / generic. */
const checkContact = (v: string): void => {
  if (v === '*') return;
  for (const na of parseNameAddrList(v, 'Contact')) {
    const q = na.params.get('q');
    if (q !== undefined && (q === null || !QVALUE.test(q))) throw new SipParseError('Contact: invalid q');
    const exp = na.params.get('expires');
    if (exp !== undefined && (exp === null || !isDigits(exp)))
      throw new SipParseError('Contact: invalid expires');
  }
};

/** RFC 3261 §20.15: media-type = m-type SLASH m-subtype *(SEMI m-parameter); m-parameter = m-attribute EQUAL m-value. */
export const checkMediaType = (v: string): void => {
  let i = scanToken(v, 0);
  if (i === 0) throw new SipParseError('Content-Type: invalid type');
  i = skipWs(v, i);
  if (v.charCodeAt(i) !== 47) throw new SipParseError('Content-Type: expected "/"');
  const s = skipWs(v, i + 1);
  const e = scanToken(v, s);
  if (e === s) throw new SipParseError('Content-Type: invalid subtype');
  const params = new Map<string, string | null>();
  const end = parseParams(v, e, params, 'Content-Type');
  if (end !== v.length) throw new SipParseError('Content-Type: unexpected text');
  for (const val of params.values())
    if (val === null) throw new SipParseError('Content-Type: parameter without value');
};

/** RFC 3261 §25.1 SIP-date = rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 4475 baddate). */
const SIP_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/i;

/** delta-seconds = 1*DIGIT, at most 2**32-1 (RFC 3261 §20.19, §20.23; RFC 4475 scalar02). */
const checkDelta = (v: string, what: string): void => {
  if (parseBoundedInt(v, MAX_UINT32) === undefined)
    throw new SipParseError(`${what}: not a number or larger than 2**32-1`);
};

/** Retry-After = delta-seconds [ comment ] *( SEMI retry-param ) (RFC 3261 §20.33): only the number is checked. */
const checkRetryAfter = (v: string): void => {
  let i = 0;
  while (i < v.length && v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) i++;
  checkDelta(v.slice(0, i), 'Retry-After');
};

/** Warning = warning-value *(COMMA warning-value); warning-value = warn-code SP warn-agent SP warn-text; warn-code = 3DIGIT. */
const checkWarning = (v: string): void => {
  // Only the first warning-value's code is checked (warn-text is a quoted string that may hold commas).
  if (!/^[0-9]{3} /.test(v)) throw new SipParseError('Warning: warn-code must be 3 digits');
};

/**
 * Generic header-value check for fields without a specific grammar here (RFC 3261 §25.1
 * TEXT-UTF8char / LWS): no raw control characters, except right after "\" (a quoted-pair).
 */
const checkGeneric = (name: string, v: string): void => {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 92) i++;
    else if ((c < 32 && c !== 9) || c === 127) throw new SipParseError(`${name}: control character in value`);
  }
};

/**
 * Checks one header field value against its grammar (for the fields the SIP core relies on; others
 * only get the control-character check). `method` is the request method, for the CSeq match
 * (RFC 4475 mismatch01/mismatch02). Throws SipParseError.
 */
export const validateHeader = (name: string, value: string, method?: string): void => {
  switch (name) {
    case 'Via':
      parseVia(value);
      return;
    case 'From':
    case 'To':
      parseNameAddr(value, name);
      return;
    case 'Contact':
      checkContact(value);
      return;
    case 'Route':
    case 'Record-Route':
      parseNameAddrList(value, name);
      return;
    case 'Call-ID':
      checkCallId(value);
      return;
    case 'CSeq': {
      const c = parseCSeq(value);
      if (method !== undefined && c.method !== method)
        throw new SipParseError(`CSeq method "${c.method}" does not match the request method "${method}"`);
      return;
    }
    case 'Max-Forwards':
      // RFC 3261 §20.22: 1*DIGIT; values above 255 are not meaningful (RFC 4475 scalar02).
      if (parseBoundedInt(value, 255) === undefined)
        throw new SipParseError('Max-Forwards: not a number in 0-255');
      return;
    case 'Content-Length':
      if (!isDigits(value)) throw new SipParseError('Content-Length: not a number');
      return;
    case 'Expires':
    case 'Min-Expires':
      checkDelta(value, name);
      return;
    case 'Retry-After':
      checkRetryAfter(value);
      return;
    case 'Date':
      if (!SIP_DATE.test(value)) throw new SipParseError('Date: not an RFC 1123 date in GMT');
      return;
    case 'Content-Type':
      checkMediaType(value);
      return;
    case 'Warning':
      checkWarning(value);
      return;
    default:
      checkGeneric(name, value);
  }
};

const SINGLE_VALUED = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Length'] as const;

/**
 * Message-level checks left to the application by RFC 4475 §3.3: the mandatory header fields of
 * RFC 3261 §8.1.1 (To, From, CSeq, Call-ID, Via; Max-Forwards is tolerated for RFC 2543 peers,
 * RFC 4475 §3.4) and single-valued fields that appear more than once (multi01, mcl01). Returns a
 * reason for a 400 Bad Request, or undefined when the request is fine.
 */
export const validateRequestHeaders = (m: SipRequest): string | undefined => {
  for (const n of ['To', 'From', 'CSeq', 'Call-ID', 'Via'])
    if (!m.headers.has(n)) return `Missing ${n} header field`;
  const counts = new Map<string, number>();
  m.headers.forEach((n) => {
    counts.set(n, (counts.get(n) ?? 0) + 1);
  });
  for (const n of SINGLE_VALUED) if ((counts.get(n) ?? 0) > 1) return `Multiple ${n} header fields`;
  return undefined;
};
