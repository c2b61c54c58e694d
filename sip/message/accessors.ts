/**
 * Parsed views of the header fields the SIP core needs (RFC 3261 §20, ABNF §25.1): Via, CSeq,
 * Call-ID, From/To (name-addr / addr-spec with parameters), comma-separated lists, and
 * `createResponse` (RFC 3261 §8.2.6). Header values in SipMessage are text; these helpers parse on
 * demand and throw SipParseError on values that do not match the grammar.
 */
import {
  formatParams,
  isIPv4,
  isIPv6,
  isValidHost,
  parseBoundedInt,
  parseParams,
  parsePort,
  quote,
  SipParseError,
  scanHost,
  scanQuoted,
  scanToken,
  skipWs,
  unquote,
} from './grammar.ts';
import { EMPTY_BODY, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './types.ts';
import { validateUri } from './uri.ts';

export { SipParseError } from './grammar.ts';

/** One via-parm of a Via header field (RFC 3261 §20.42, §25.1). */
export interface Via {
  /** protocol-name "/" protocol-version, e.g. 'SIP/2.0' (protocol-name upper-cased). */
  protocol: string;
  /** Transport token, upper-cased: 'UDP' | 'TCP' | 'TLS' | 'SCTP' | … */
  transport: string;
  host: string;
  port?: number;
  /** via-params; names lower-cased, values as written (null for a bare name such as `rport`). */
  params: Map<string, string | null>;
}

/** CSeq header field (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** name-addr / addr-spec with header parameters (From, To, Contact, Route, …; RFC 3261 §20.10, §25.1). */
export interface NameAddr {
  /** Display name, unquoted (quoted-pairs resolved); undefined when absent. */
  displayName?: string;
  /** The URI (addr-spec) as written, without the angle brackets. */
  uri: string;
  /** Header parameters (tag, expires, q, …); names lower-cased, values as written. */
  params: Map<string, string | null>;
}

/** Largest value of a 32-bit unsigned integer (CSeq numbers, delta-seconds; RFC 3261 §8.1.1.5, §20.19). */
export const MAX_UINT32 = 0xffffffff;

const expectSlash = (s: string, i: number): number => {
  const j = skipWs(s, i);
  if (s.charCodeAt(j) !== 47) throw new SipParseError('Via: expected "/" in sent-protocol');
  return skipWs(s, j + 1);
};

const readToken = (s: string, i: number, what: string): [string, number] => {
  const end = scanToken(s, i);
  if (end === i) throw new SipParseError(`${what}: expected a token at offset ${i}`);
  return [s.slice(i, end), end];
};

const checkViaParams = (params: Map<string, string | null>): void => {
  // RFC 3261 §25.1: via-ttl = "ttl" EQUAL 1*3DIGIT (0-255); via-maddr = "maddr" EQUAL host;
  // via-received = "received" EQUAL (IPv4address / IPv6address); via-branch = "branch" EQUAL token;
  // RFC 3581: response-port = "rport" [EQUAL 1*DIGIT].
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || ttl.length > 3 || parseBoundedInt(ttl, 255) === undefined))
    throw new SipParseError('Via: invalid ttl');
  const maddr = params.get('maddr');
  if (maddr !== undefined && (maddr === null || !isValidHost(maddr)))
    throw new SipParseError('Via: invalid maddr');
  const received = params.get('received');
  if (received !== undefined) {
    const ip = received?.startsWith('[') && received.endsWith(']') ? received.slice(1, -1) : received;
    if (ip === null || ip === undefined || !(isIPv4(ip) || isIPv6(ip)))
      throw new SipParseError('Via: invalid received');
  }
  const branch = params.get('branch');
  if (branch !== undefined && (branch === null || branch.startsWith('"') || branch.startsWith('[')))
    throw new SipParseError('Via: invalid branch');
  const rport = params.get('rport');
  if (rport !== undefined && rport !== null && parsePort(rport) === undefined)
    throw new SipParseError('Via: invalid rport');
};

/**
 * Parses a Via header field value (RFC 3261 §20.42, §25.1):
 * `via-parm *(COMMA via-parm)`, via-parm = sent-protocol LWS sent-by *( SEMI via-params ),
 * sent-protocol = protocol-name SLASH protocol-version SLASH transport, sent-by = host [COLON port].
 * White space is allowed around "/", ":", ";", "=" and "," as SLASH/COLON/SEMI/EQUAL/COMMA allow.
 * Throws SipParseError on garbage (RFC 4475 badinv01: empty parameters).
 */
export const parseVia = (value: string): Via[] => {
  const out: Via[] = [];
  const s = value;
  let i = 0;
  for (;;) {
    i = skipWs(s, i);
    const [name, a] = readToken(s, i, 'Via protocol-name');
    const [version, b] = readToken(s, expectSlash(s, a), 'Via protocol-version');
    const [transport, c] = readToken(s, expectSlash(s, b), 'Via transport');
    i = skipWs(s, c);
    if (i === c) throw new SipParseError('Via: expected white space before sent-by');
    const hostEnd = scanHost(s, i);
    const host = s.slice(i, hostEnd);
    if (!isValidHost(host)) throw new SipParseError(`Via: invalid sent-by host "${host.slice(0, 64)}"`);
    i = skipWs(s, hostEnd);
    let port: number | undefined;
    if (s.charCodeAt(i) === 58) {
      const ps = skipWs(s, i + 1);
      let pe = ps;
      while (pe < s.length && s.charCodeAt(pe) >= 48 && s.charCodeAt(pe) <= 57) pe++;
      port = parsePort(s.slice(ps, pe));
      if (port === undefined) throw new SipParseError('Via: invalid port');
      i = pe;
    }
    const params = new Map<string, string | null>();
    i = parseParams(s, i, params, 'Via');
    checkViaParams(params);
    const via: Via = {
      protocol: `${name.toUpperCase()}/${version}`,
      transport: transport.toUpperCase(),
      host,
      params,
    };
    if (port !== undefined) via.port = port;
    out.push(via);
    if (i >= s.length) return out;
    if (s.charCodeAt(i) !== 44) throw new SipParseError(`Via: unexpected "${s[i]}" at offset ${i}`);
    i++;
  }
};

/** Formats one via-parm: `SIP/2.0/UDP host:port;param=value…`. */
export const formatVia = (v: Via): string =>
  `${v.protocol}/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${formatParams(v.params)}`;

/** The first via-parm of the first Via header field (the top Via), or undefined when absent or unparseable. */
export const topVia = (m: SipMessage): Via | undefined => {
  const value = m.headers.get('Via');
  if (value === undefined) return undefined;
  try {
    return parseVia(value)[0];
  } catch {
    return undefined;
  }
};

/** The branch parameter of a Via (RFC 3261 §8.1.1.7), or undefined. */
export const viaBranch = (v: Via): string | undefined => v.params.get('branch') ?? undefined;

/**
 * Parses a CSeq value (RFC 3261 §20.16, §25.1): `1*DIGIT LWS Method`. The number must fit in 32
 * bits unsigned (§8.1.1.5; RFC 4475 scalar02/scalarlg); the method is a case-sensitive token.
 */
export const parseCSeq = (value: string): CSeq => {
  const s = value;
  let i = skipWs(s, 0);
  const start = i;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  const seq = parseBoundedInt(s.slice(start, i), MAX_UINT32);
  if (seq === undefined) throw new SipParseError('CSeq: sequence number missing or larger than 2**32-1');
  const j = skipWs(s, i);
  if (j === i) throw new SipParseError('CSeq: expected white space before the method');
  const [method, end] = readToken(s, j, 'CSeq method');
  if (skipWs(s, end) !== s.length) throw new SipParseError('CSeq: unexpected text after the method');
  return { seq, method };
};

/** The parsed CSeq of a message; throws SipParseError when absent or malformed. */
export const cseqOf = (m: SipMessage): CSeq => {
  const v = m.headers.get('CSeq');
  if (v === undefined) throw new SipParseError('CSeq header missing');
  return parseCSeq(v);
};

/** The Call-ID (RFC 3261 §20.8), trimmed; '' when the message has none. */
export const callIdOf = (m: SipMessage): string => (m.headers.get('Call-ID') ?? '').trim();

const checkUri = (uri: string, what: string): void => {
  try {
    validateUri(uri, 'addr-spec');
  } catch (e) {
    throw new SipParseError(`${what}: ${(e as Error).message}`);
  }
};

/**
 * Scans one `(name-addr / addr-spec) *( SEMI generic-param )` from `start` (RFC 3261 §20.10,
 * §25.1). name-addr = [display-name] LAQUOT addr-spec RAQUOT, display-name = *(token LWS) /
 * quoted-string. Without angle brackets the URI ends at white space, ";" or "," (its parameters
 * are header parameters) and may not contain "?" (§20.10; RFC 4475 regbadct). Inside the brackets
 * no white space is allowed (LAQUOT = SWS "<", RAQUOT = ">" SWS; RFC 4475 badaspec). A missing LWS
 * between a token display name and "<" is tolerated (RFC 4475 lwsdisp, a valid message).
 */
export const scanNameAddr = (s: string, start: number, what: string): { nameAddr: NameAddr; end: number } => {
  let i = skipWs(s, start);
  let displayName: string | undefined;
  let uri: string | undefined;
  const c = s.charCodeAt(i);
  if (c === 34) {
    const e = scanQuoted(s, i);
    if (e < 0) throw new SipParseError(`${what}: unterminated or invalid quoted display name`);
    displayName = unquote(s.slice(i, e));
    i = skipWs(s, e);
    if (s.charCodeAt(i) !== 60) throw new SipParseError(`${what}: expected "<" after the display name`);
  } else if (c !== 60) {
    const tEnd = scanToken(s, i);
    if (tEnd > i && s.charCodeAt(tEnd) === 58) {
      let e = tEnd;
      while (e < s.length) {
        const ch = s.charCodeAt(e);
        if (ch === 32 || ch === 9 || ch === 59 || ch === 44) break;
        e++;
      }
      uri = s.slice(i, e);
      if (uri.includes('?'))
        throw new SipParseError(`${what}: a URI with headers must be enclosed in "<" ">" (RFC 3261 §20.10)`);
      checkUri(uri, what);
      i = e;
    } else {
      const words: string[] = [];
      let j = i;
      for (;;) {
        const e = scanToken(s, j);
        if (e === j) break;
        words.push(s.slice(j, e));
        j = skipWs(s, e);
      }
      if (words.length === 0 || s.charCodeAt(j) !== 60)
        throw new SipParseError(`${what}: invalid display name or address`);
      displayName = words.join(' ');
      i = j;
    }
  }
  if (uri === undefined) {
    const close = s.indexOf('>', i + 1);
    if (close < 0) throw new SipParseError(`${what}: missing ">"`);
    uri = s.slice(i + 1, close);
    checkUri(uri, what);
    i = close + 1;
  }
  const params = new Map<string, string | null>();
  i = parseParams(s, i, params, what);
  const nameAddr: NameAddr = { uri, params };
  if (displayName !== undefined) nameAddr.displayName = displayName;
  return { nameAddr, end: i };
};

/**
 * Parses one name-addr or addr-spec with parameters (From, To, one Contact/Route value). `what`
 * names the field in error messages. Throws SipParseError.
 */
export const parseNameAddr = (value: string, what = 'address'): NameAddr => {
  const { nameAddr, end } = scanNameAddr(value, 0, what);
  if (end !== value.length) throw new SipParseError(`${what}: unexpected "${value[end]}" at offset ${end}`);
  return nameAddr;
};

/** Parses a comma-separated list of name-addr/addr-spec values (Contact, Route, Record-Route, …). Throws SipParseError. */
export const parseNameAddrList = (value: string, what = 'address list'): NameAddr[] => {
  const out: NameAddr[] = [];
  let i = 0;
  for (;;) {
    const { nameAddr, end } = scanNameAddr(value, i, what);
    out.push(nameAddr);
    if (end >= value.length) return out;
    if (value.charCodeAt(end) !== 44)
      throw new SipParseError(`${what}: unexpected "${value[end]}" at offset ${end}`);
    i = end + 1;
  }
};

/** Formats a NameAddr in name-addr form: `"Display" <uri>;params` (the URI is always bracketed). */
export const formatNameAddr = (n: NameAddr): string =>
  `${n.displayName ? `${quote(n.displayName)} ` : ''}<${n.uri}>${formatParams(n.params)}`;

/** The tag parameter of a From/To value (RFC 3261 §19.3), or undefined (also when unparseable). */
export const tagOf = (value: string): string | undefined => {
  try {
    return parseNameAddr(value).params.get('tag') ?? undefined;
  } catch {
    return undefined;
  }
};

/** The From tag of a message. */
export const fromTag = (m: SipMessage): string | undefined => {
  const v = m.headers.get('From');
  return v === undefined ? undefined : tagOf(v);
};

/** The To tag of a message. */
export const toTag = (m: SipMessage): string | undefined => {
  const v = m.headers.get('To');
  return v === undefined ? undefined : tagOf(v);
};

/**
 * Splits a header value at commas that are outside quoted strings and outside `<…>` (RFC 3261
 * §7.3.1: `field-name: value, value` is equivalent to repeated fields). Parts are trimmed; empty
 * parts are dropped. Only meaningful for headers whose grammar is a comma-separated list.
 */
export const splitHeaderValues = (value: string): string[] => {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92) i++;
      else if (c === 34) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60) inAngle = true;
    else if (c === 62) inAngle = false;
    else if (c === 44 && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
};

/** Reason phrases of RFC 3261 §21 and later RFCs (used when createResponse gets no reason). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info',
  437: 'Unsupported Certificate',
  438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded',
  469: 'Bad Info Package',
  470: 'Consent Needed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
  607: 'Unwanted',
  608: 'Rejected',
};

const CLASS_PHRASES = [
  '',
  'Provisional',
  'Success',
  'Redirection',
  'Client Error',
  'Server Error',
  'Global Failure',
];

/** The default reason phrase of a status code (a class-generic phrase for unknown codes, §21). */
export const defaultReasonPhrase = (status: number): string =>
  REASON_PHRASES[status] ?? CLASS_PHRASES[Math.floor(status / 100)] ?? '';

/**
 * Builds a response to `req` (RFC 3261 §8.2.6): status-line with `reason` (default phrase when
 * omitted); copies all Via fields in order, From, To, Call-ID and CSeq (§8.2.6.2); adds the To tag
 * when `opts.toTag` is given and To has none (a 100 Trying must not get one: pass no toTag); copies
 * Timestamp into a 100 (§8.2.6.1); then appends `opts.headers`, Content-Type and the body.
 * Content-Length is written by the serializer. Throws RangeError for a status outside 100–699.
 */
export const createResponse = (
  req: SipRequest,
  status: number,
  reason?: string,
  opts: { toTag?: string; headers?: [string, string][]; body?: Buffer; contentType?: string } = {},
): SipResponse => {
  if (!Number.isInteger(status) || status < 100 || status > 699)
    throw new RangeError(`invalid status ${status}`);
  const headers = new SipHeaders();
  for (const v of req.headers.getAll('Via')) headers.add('Via', v);
  const from = req.headers.get('From');
  if (from !== undefined) headers.add('From', from);
  let to = req.headers.get('To');
  if (to !== undefined) {
    if (opts.toTag !== undefined && tagOf(to) === undefined) to = `${to};tag=${opts.toTag}`;
    headers.add('To', to);
  }
  const callId = req.headers.get('Call-ID');
  if (callId !== undefined) headers.add('Call-ID', callId);
  const cseq = req.headers.get('CSeq');
  if (cseq !== undefined) headers.add('CSeq', cseq);
  if (status === 100) {
    const ts = req.headers.get('Timestamp');
    if (ts !== undefined) headers.add('Timestamp', ts);
  }
  for (const [n, v] of opts.headers ?? []) headers.add(n, v);
  const body = opts.body ?? EMPTY_BODY;
  if (opts.contentType !== undefined) headers.set('Content-Type', opts.contentType);
  return {
    kind: 'response',
    status,
    reason: reason ?? defaultReasonPhrase(status),
    version: 'SIP/2.0',
    headers,
    body,
  };
};
