/**
 * SIP and SIPS URIs (RFC 3261 §19.1, ABNF §25.1), minimal `tel:` URIs (RFC 3966), generic
 * absoluteURI validation (RFC 2396 as referenced by RFC 3261 §25.1), and URI comparison (§19.1.4).
 *
 * Components are kept as written (still %-escaped) so formatting reproduces the text; comparison
 * normalizes escapes (§19.1.4: characters other than the reserved set are equivalent to their
 * escaped form).
 */
import {
  HNV_CHARS,
  inTable,
  isAlpha,
  isHex,
  isValidHost,
  PARAM_CHARS,
  PASSWORD_CHARS,
  parsePort,
  RESERVED_CHARS,
  SCHEME_CHARS,
  SipParseError,
  scanHost,
  URIC_CHARS,
  USER_CHARS,
} from './grammar.ts';

/** A parsed SIP, SIPS or tel URI. */
export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  /** user (or telephone-subscriber) as written, %-escapes kept; for tel: the number. */
  user?: string;
  password?: string;
  /** host as written (IPv6 references keep their brackets); '' for tel: URIs. */
  host: string;
  port?: number;
  /** uri-parameters; names lower-cased, values as written (null for a bare name such as `lr`). */
  params: Map<string, string | null>;
  /** headers (`?name=value&…`), as written. */
  headers: [string, string][];
}

/** Checks that every `%` in s[from, to) starts a valid `escaped` ("%" HEXDIG HEXDIG) and that all other characters are in `t`. */
const allIn = (s: string, from: number, to: number, t: Uint8Array): boolean => {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= to || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (!inTable(t, c)) return false;
  }
  return true;
};

/** Returns the scheme (lower-cased) of an absolute URI, or undefined when `text` has none. */
export const uriScheme = (text: string): string | undefined => {
  const colon = text.indexOf(':');
  if (colon < 1 || !isAlpha(text.charCodeAt(0))) return undefined;
  for (let i = 1; i < colon; i++) if (!inTable(SCHEME_CHARS, text.charCodeAt(i))) return undefined;
  return text.slice(0, colon).toLowerCase();
};

/**
 * absoluteURI (RFC 3261 §25.1, from RFC 2396): scheme ":" ( hier-part / opaque-part ), all of it
 * `uric` characters (reserved / unreserved / escaped) with at least one after the colon.
 */
export const isAbsoluteUri = (text: string): boolean => {
  const scheme = uriScheme(text);
  if (scheme === undefined) return false;
  const start = scheme.length + 1;
  return text.length > start && allIn(text, start, text.length, URIC_CHARS);
};

const parseTelUri = (text: string, start: number): SipUri => {
  // RFC 3966 (minimal): telephone-subscriber = number *( ";" par ); the number is global ("+" digits
  // and visual separators) or local (hex digits, "*", "#", separators).
  const semi = text.indexOf(';', start);
  const numEnd = semi < 0 ? text.length : semi;
  const number = text.slice(start, numEnd);
  // Linear checks (no backtracking regex): allowed characters, and at least one digit.
  const global = number.startsWith('+');
  const digits = global ? number.slice(1) : number;
  const allowed = global ? /^[0-9\-.()]+$/ : /^[0-9A-Fa-f*#\-.()]+$/;
  const digit = global ? /[0-9]/ : /[0-9A-Fa-f*#]/;
  if (!allowed.test(digits) || !digit.test(digits))
    throw new SipParseError(`tel URI: invalid number "${number}"`);
  const params = new Map<string, string | null>();
  if (semi >= 0) parseUriParams(text, semi, text.length, params, 'tel URI');
  return { scheme: 'tel', user: number, host: '', params, headers: [] };
};

/** Parses `*( ";" pname [ "=" pvalue ] )` of a URI between `from` (a ';') and `to`. */
const parseUriParams = (
  s: string,
  from: number,
  to: number,
  params: Map<string, string | null>,
  what: string,
) => {
  let i = from;
  while (i < to) {
    // s[i] === ';'
    let end = s.indexOf(';', i + 1);
    if (end < 0 || end > to) end = to;
    const eq = s.indexOf('=', i + 1);
    const hasValue = eq >= 0 && eq < end;
    const nameEnd = hasValue ? eq : end;
    if (nameEnd === i + 1 || !allIn(s, i + 1, nameEnd, PARAM_CHARS))
      throw new SipParseError(`${what}: invalid parameter name`);
    if (hasValue && (eq + 1 === end || !allIn(s, eq + 1, end, PARAM_CHARS)))
      throw new SipParseError(`${what}: invalid parameter value`);
    const name = s.slice(i + 1, nameEnd).toLowerCase();
    if (!params.has(name)) params.set(name, hasValue ? s.slice(eq + 1, end) : null);
    i = end;
  }
};

/**
 * Parses a SIP, SIPS (RFC 3261 §19.1.1, §25.1) or tel (RFC 3966, minimal) URI. The scheme is
 * case-insensitive. Throws SipParseError when the text does not match the ABNF:
 * `"sip:" [ userinfo ] hostport uri-parameters [ headers ]`.
 */
export const parseSipUri = (text: string): SipUri => {
  const scheme = uriScheme(text);
  if (scheme === 'tel') return parseTelUri(text, 4);
  if (scheme !== 'sip' && scheme !== 'sips')
    throw new SipParseError(`not a SIP/SIPS/tel URI: ${text.slice(0, 40)}`);
  let i = scheme.length + 1;
  const len = text.length;
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: [] };
  // userinfo: '@' cannot appear (unescaped) anywhere else in a SIP URI, so the first one ends it.
  const at = text.indexOf('@', i);
  if (at >= 0) {
    if (text.indexOf('@', at + 1) >= 0) throw new SipParseError('SIP URI: more than one "@"');
    const colon = text.indexOf(':', i);
    const userEnd = colon >= 0 && colon < at ? colon : at;
    if (userEnd === i || !allIn(text, i, userEnd, USER_CHARS))
      throw new SipParseError('SIP URI: invalid user');
    uri.user = text.slice(i, userEnd);
    if (userEnd < at) {
      if (!allIn(text, userEnd + 1, at, PASSWORD_CHARS)) throw new SipParseError('SIP URI: invalid password');
      uri.password = text.slice(userEnd + 1, at);
    }
    i = at + 1;
  }
  const hostEnd = scanHost(text, i);
  const host = text.slice(i, hostEnd);
  if (!isValidHost(host)) throw new SipParseError(`SIP URI: invalid host "${host.slice(0, 64)}"`);
  uri.host = host;
  i = hostEnd;
  if (text.charCodeAt(i) === 58) {
    let j = i + 1;
    while (j < len && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
    const port = parsePort(text.slice(i + 1, j));
    if (port === undefined) throw new SipParseError('SIP URI: invalid port');
    uri.port = port;
    i = j;
  }
  let q = text.indexOf('?', i);
  if (q < 0) q = len;
  if (i < q) {
    if (text.charCodeAt(i) !== 59) throw new SipParseError(`SIP URI: unexpected "${text[i]}" after host`);
    parseUriParams(text, i, q, uri.params, 'SIP URI');
  }
  if (q < len) {
    // headers = "?" header *( "&" header ); header = hname "=" hvalue
    for (const h of text.slice(q + 1).split('&')) {
      const eq = h.indexOf('=');
      if (eq < 1 || !allIn(h, 0, eq, HNV_CHARS) || !allIn(h, eq + 1, h.length, HNV_CHARS))
        throw new SipParseError('SIP URI: invalid header');
      uri.headers.push([h.slice(0, eq), h.slice(eq + 1)]);
    }
  }
  return uri;
};

/** parseSipUri without throwing. */
export const tryParseSipUri = (text: string): SipUri | undefined => {
  try {
    return parseSipUri(text);
  } catch {
    return undefined;
  }
};

/** Formats a URI back to text (components are written as stored, i.e. still escaped). */
export const formatSipUri = (u: SipUri): string => {
  let out = `${u.scheme}:`;
  if (u.scheme === 'tel') out += u.user ?? '';
  else {
    if (u.user !== undefined) out += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
    out += u.host;
    if (u.port !== undefined) out += `:${u.port}`;
  }
  for (const [k, v] of u.params) out += v === null ? `;${k}` : `;${k}=${v}`;
  if (u.headers.length > 0) out += `?${u.headers.map(([k, v]) => `${k}=${v}`).join('&')}`;
  return out;
};

/**
 * Validates a URI as it may appear in a SIP message (RFC 3261 §25.1): SIP/SIPS/tel URIs are parsed
 * strictly, any other scheme must be a well-formed absoluteURI. In a Request-URI a SIP/SIPS URI may
 * not carry headers (§19.1.1 Table 1; RFC 4475 escruri). Throws SipParseError.
 */
export const validateUri = (text: string, context: 'request-uri' | 'addr-spec'): void => {
  const scheme = uriScheme(text);
  if (scheme === 'sip' || scheme === 'sips' || scheme === 'tel') {
    const u = parseSipUri(text);
    if (context === 'request-uri' && u.headers.length > 0)
      throw new SipParseError('Request-URI: headers are not allowed in a SIP Request-URI (RFC 3261 §19.1.1)');
    return;
  }
  if (!isAbsoluteUri(text)) throw new SipParseError(`invalid URI "${text.slice(0, 64)}"`);
};

/** Unescapes %HH sequences (as UTF-8; invalid sequences are left escaped). */
export const unescapeUri = (s: string): string => {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Escapes a text for use as the user part of a SIP URI (RFC 3261 §25.1 user). */
export const escapeUriUser = (s: string): string => {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out +=
      b < 128 && inTable(USER_CHARS, b)
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
};

/**
 * §19.1.4 escape normalization: an escaped character outside the reserved set is replaced by the
 * character itself (it is equivalent to it); remaining escapes get upper-case hex; optionally the
 * result is case-folded.
 */
const normalizeEscapes = (s: string, fold: boolean): string => {
  let out = s;
  if (s.includes('%')) {
    out = s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
      const c = Number.parseInt(hex, 16);
      if (c > 0x20 && c < 0x7f && c !== 37 && !inTable(RESERVED_CHARS, c)) return String.fromCharCode(c);
      return `%${hex.toUpperCase()}`;
    });
  }
  if (!fold) return out;
  // Case-fold everything except the hex of remaining escapes (already upper-case).
  return out.replace(/%[0-9A-F]{2}|[^%]+/g, (p) => (p.startsWith('%') ? p : p.toLowerCase()));
};

const MUST_MATCH_IF_PRESENT = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

/**
 * URI equality per RFC 3261 §19.1.4: scheme must match (sip ≠ sips); userinfo compared
 * case-sensitively, host and everything else case-insensitively, escapes normalized; ports must be
 * equal or both absent; a parameter in both URIs must match; user/ttl/method/maddr/transport present
 * in only one never match (the last one per the "default value" rule and its examples); other
 * parameters present in only one are ignored; header components must all match. tel URIs compare
 * their numbers without visual separators, plus their parameters. Unparseable input → false.
 */
export const sipUriEquals = (a: SipUri | string, b: SipUri | string): boolean => {
  const ua = typeof a === 'string' ? tryParseSipUri(a) : a;
  const ub = typeof b === 'string' ? tryParseSipUri(b) : b;
  if (!ua || !ub || ua.scheme !== ub.scheme) return false;
  if (ua.scheme === 'tel') {
    const num = (u: SipUri) => (u.user ?? '').replace(/[-.()]/g, '').toLowerCase();
    if (num(ua) !== num(ub)) return false;
  } else {
    if ((ua.user === undefined) !== (ub.user === undefined)) return false;
    if (ua.user !== undefined && normalizeEscapes(ua.user, false) !== normalizeEscapes(ub.user ?? '', false))
      return false;
    if ((ua.password ?? null) !== (ub.password ?? null)) {
      if (ua.password === undefined || ub.password === undefined) return false;
      if (normalizeEscapes(ua.password, false) !== normalizeEscapes(ub.password, false)) return false;
    }
    if (ua.host.toLowerCase() !== ub.host.toLowerCase()) return false;
    if (ua.port !== ub.port) return false;
  }
  for (const [k, va] of ua.params) {
    if (!ub.params.has(k)) {
      if (MUST_MATCH_IF_PRESENT.has(k)) return false;
      continue;
    }
    const vb = ub.params.get(k) ?? null;
    if ((va === null) !== (vb === null)) return false;
    if (va !== null && vb !== null && normalizeEscapes(va, true) !== normalizeEscapes(vb, true)) return false;
  }
  for (const k of ub.params.keys()) if (!ua.params.has(k) && MUST_MATCH_IF_PRESENT.has(k)) return false;
  if (ua.headers.length !== ub.headers.length) return false;
  const hs = (u: SipUri) =>
    u.headers.map(([k, v]) => `${normalizeEscapes(k, true)}=${normalizeEscapes(v, true)}`).sort();
  const ha = hs(ua);
  const hb = hs(ub);
  return ha.every((h, i) => h === hb[i]);
};
