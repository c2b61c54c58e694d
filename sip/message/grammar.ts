/**
 * Lexical building blocks of the SIP grammar (RFC 3261 §25.1): character classes as lookup tables,
 * scanners for tokens, quoted strings and hosts, and the generic `*( SEMI generic-param )` list.
 *
 * All scanners work on header values that have already been unfolded (RFC 3261 §7.3.1), so the only
 * white space they meet is SP and HTAB; CR and LF inside a value are always a syntax error. Every
 * scanner is a single forward pass (no regular expressions with backtracking), so hostile input
 * costs linear time.
 */

/** Thrown by the header-grammar helpers when a value does not match the RFC 3261 ABNF. */
export class SipParseError extends Error {
  override name = 'SipParseError';
}

const ALPHA_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGIT_CHARS = '0123456789';
const ALNUM_CHARS = ALPHA_CHARS + DIGIT_CHARS;

const table = (chars: string): Uint8Array => {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
};

/** RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"). */
export const TOKEN_CHARS = table(`${ALNUM_CHARS}-.!%*_+\`'~`);
/** RFC 3261 §25.1: word (used by Call-ID) = token chars plus `( ) < > : \ DQUOTE / [ ] ? { }`. */
export const WORD_CHARS = table(`${ALNUM_CHARS}-.!%*_+\`'~()<>:\\"/[]?{}`);
/** RFC 3261 §25.1: unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")". */
export const UNRESERVED_CHARS = table(`${ALNUM_CHARS}-_.!~*'()`);
/** RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /. */
export const USER_CHARS = table(`${ALNUM_CHARS}-_.!~*'()&=+$,;?/`);
/** RFC 3261 §25.1: password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ). */
export const PASSWORD_CHARS = table(`${ALNUM_CHARS}-_.!~*'()&=+$,`);
/** RFC 3261 §25.1: paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $. */
export const PARAM_CHARS = table(`${ALNUM_CHARS}-_.!~*'()[]/:&+$`);
/** RFC 3261 §25.1: hname / hvalue = *( hnv-unreserved / unreserved / escaped ); hnv-unreserved = [ ] / ? : + $. */
export const HNV_CHARS = table(`${ALNUM_CHARS}-_.!~*'()[]/?:+$`);
/** RFC 3261 §25.1 / RFC 2396: uric = reserved / unreserved / escaped; reserved = ; / ? : @ & = + $ ,. */
export const URIC_CHARS = table(`${ALNUM_CHARS}-_.!~*'();/?:@&=+$,`);
/** RFC 3261 §25.1 reserved set (characters that are NOT equivalent to their escaped form, §19.1.4). */
export const RESERVED_CHARS = table(';/?:@&=+$,');
/** hostname characters (alphanum / "-" / "."). */
export const HOSTNAME_CHARS = table(`${ALNUM_CHARS}-.`);
/** RFC 3261 §25.1 / RFC 2396 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
export const SCHEME_CHARS = table(`${ALNUM_CHARS}+-.`);

const HEX = table('0123456789abcdefABCDEF');
const IPV6_CHARS = table('0123456789abcdefABCDEF:.');

export const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isAlnum = (c: number): boolean => isAlpha(c) || isDigit(c);
export const isHex = (c: number): boolean => c < 128 && HEX[c] === 1;
/** SP or HTAB (WSP, RFC 3261 §25.1 via RFC 2234). */
export const isWsp = (c: number): boolean => c === 32 || c === 9;

/** True when `c` is in the ASCII lookup table `t`. */
export const inTable = (t: Uint8Array, c: number): boolean => c < 128 && t[c] === 1;

/** True when `s` is a non-empty RFC 3261 token. */
export const isToken = (s: string): boolean => {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!inTable(TOKEN_CHARS, s.charCodeAt(i))) return false;
  return true;
};

/** True when `s` is all ASCII digits (at least one). */
export const isDigits = (s: string): boolean => {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
};

/**
 * Parses `1*DIGIT` as an unsigned integer no larger than `max` (e.g. 2**32-1 for CSeq and
 * delta-seconds, RFC 3261 §8.1.1.5, §20.19). Returns undefined when not digits or out of range;
 * leading zeros are allowed (RFC 4475 wsinv: `Max-Forwards: 0068`).
 */
export const parseBoundedInt = (s: string, max: number): number | undefined => {
  if (!isDigits(s)) return undefined;
  let i = 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
  if (s.length - i > 16) return undefined;
  const n = Number(s.slice(i));
  return n <= max ? n : undefined;
};

/** Skips SP / HTAB from `i`; returns the first other index. */
export const skipWs = (s: string, i: number): number => {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
};

/** Returns the index just past the longest run of characters of table `t` starting at `i`. */
export const scanChars = (s: string, i: number, t: Uint8Array): number => {
  while (i < s.length && inTable(t, s.charCodeAt(i))) i++;
  return i;
};

/** Returns the index just past the token starting at `i` (=== i when there is none). */
export const scanToken = (s: string, i: number): number => scanChars(s, i, TOKEN_CHARS);

/**
 * Scans a quoted-string whose opening DQUOTE is at `i` (RFC 3261 §25.1):
 * `DQUOTE *(qdtext / quoted-pair) DQUOTE`, qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII,
 * quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F). Returns the index after the closing DQUOTE, or
 * -1 when unterminated or when it holds a forbidden character (RFC 4475 quotbal).
 */
export const scanQuoted = (s: string, i: number): number => {
  let j = i + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 34) return j + 1;
    if (c === 92) {
      const n = s.charCodeAt(j + 1);
      if (Number.isNaN(n) || n === 10 || n === 13 || n > 0x7f) return -1;
      j += 2;
      continue;
    }
    if (c === 32 || c === 9 || c === 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80) {
      j++;
      continue;
    }
    return -1;
  }
  return -1;
};

/** The content of a quoted-string (including its DQUOTEs) with quoted-pairs resolved. */
export const unquote = (quoted: string): string => {
  const inner = quoted.slice(1, -1);
  return inner.includes('\\') ? inner.replace(/\\([\s\S])/g, '$1') : inner;
};

/** Makes a quoted-string of `text`, escaping `"` and `\` (RFC 3261 §25.1 quoted-pair). */
export const quote = (text: string): string => `"${text.replace(/["\\]/g, '\\$&')}"`;

/**
 * IPv4address (RFC 3261 §25.1 as corrected by RFC 5954 §4.1: dec-octet, 0–255) — 1 to 3 digits per
 * part; leading zeros accepted as RFC 3261's `1*3DIGIT` allows them.
 */
export const isIPv4 = (s: string): boolean => {
  let parts = 0;
  let i = 0;
  while (true) {
    const start = i;
    let v = 0;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      v = v * 10 + s.charCodeAt(i) - 48;
      i++;
    }
    const len = i - start;
    if (len < 1 || len > 3 || v > 255) return false;
    parts++;
    if (i === s.length) return parts === 4;
    if (s.charCodeAt(i) !== 46 || parts === 4) return false;
    i++;
  }
};

/**
 * IPv6address (RFC 3261 §25.1): hexpart [ ":" IPv4address ], hexpart = hexseq / hexseq "::" [hexseq]
 * / "::" [hexseq], hex4 = 1*4HEXDIG. Hand-written, linear.
 */
export const isIPv6 = (s: string): boolean => {
  if (s.length < 2 || s.length > 45) return false;
  let groups = 0;
  let doubleColon = false;
  let i = 0;
  if (s.startsWith('::')) {
    doubleColon = true;
    i = 2;
    if (i === s.length) return true;
  } else if (s.charCodeAt(0) === 58) return false;
  while (i < s.length) {
    // try an embedded IPv4 at the tail
    const rest = s.slice(i);
    if (!rest.includes(':') && rest.includes('.')) {
      if (!isIPv4(rest)) return false;
      groups += 2;
      i = s.length;
      break;
    }
    const start = i;
    while (i < s.length && isHex(s.charCodeAt(i))) i++;
    const len = i - start;
    if (len < 1 || len > 4) return false;
    groups++;
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (s.charCodeAt(i) === 58) {
      if (doubleColon) return false;
      doubleColon = true;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) return false;
  }
  return doubleColon ? groups <= 7 : groups === 8;
};

/**
 * hostname (RFC 3261 §25.1): *( domainlabel "." ) toplabel [ "." ]; domainlabel = alphanum /
 * alphanum *( alphanum / "-" ) alphanum; toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum.
 */
export const isHostname = (s: string): boolean => {
  if (s.length === 0 || s.length > 255) return false;
  const end = s.charCodeAt(s.length - 1) === 46 ? s.length - 1 : s.length;
  if (end === 0) return false;
  let labelStart = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || s.charCodeAt(i) === 46) {
      if (i === labelStart) return false;
      const first = s.charCodeAt(labelStart);
      const last = s.charCodeAt(i - 1);
      if (!isAlnum(first) || !isAlnum(last)) return false;
      for (let k = labelStart + 1; k < i - 1; k++) {
        const c = s.charCodeAt(k);
        if (!isAlnum(c) && c !== 45) return false;
      }
      if (i === end && !isAlpha(first)) return false; // toplabel starts with ALPHA
      labelStart = i + 1;
    }
  }
  return true;
};

/** host = hostname / IPv4address / IPv6reference (RFC 3261 §25.1); IPv6reference = "[" IPv6address "]". */
export const isValidHost = (s: string): boolean => {
  if (s.charCodeAt(0) === 91) return s.charCodeAt(s.length - 1) === 93 && isIPv6(s.slice(1, -1));
  return isIPv4(s) || isHostname(s);
};

/**
 * Scans a host starting at `i` (hostname / IPv4 chars, or a bracketed IPv6 reference); returns the
 * end index. Validation is separate (isValidHost).
 */
export const scanHost = (s: string, i: number): number => {
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    return close < 0 ? s.length : close + 1;
  }
  return scanChars(s, i, HOSTNAME_CHARS);
};

/** Parses `port = 1*DIGIT` (bounded to 0–65535). */
export const parsePort = (s: string): number | undefined => parseBoundedInt(s, 65535);

/**
 * Parses `*( SEMI generic-param )` (RFC 3261 §25.1) starting at `i` into `params`:
 * SEMI = SWS ";" SWS, generic-param = token [ EQUAL gen-value ], EQUAL = SWS "=" SWS,
 * gen-value = token / host / quoted-string. Names are lower-cased (parameter names are
 * case-insensitive); values are kept as written (quoted strings keep their DQUOTEs). The first
 * occurrence of a name wins. Returns the index of the first character after the list (after
 * trailing white space), which the caller checks (`,` or end). Throws SipParseError on a missing
 * name, missing value after `=`, or a bad quoted string.
 */
export const parseParams = (
  s: string,
  i: number,
  params: Map<string, string | null>,
  what: string,
): number => {
  for (;;) {
    let j = skipWs(s, i);
    if (s.charCodeAt(j) !== 59) return j;
    j = skipWs(s, j + 1);
    const nameEnd = scanToken(s, j);
    if (nameEnd === j) throw new SipParseError(`${what}: empty or invalid parameter name`);
    const name = s.slice(j, nameEnd).toLowerCase();
    j = skipWs(s, nameEnd);
    let value: string | null = null;
    if (s.charCodeAt(j) === 61) {
      j = skipWs(s, j + 1);
      const c = s.charCodeAt(j);
      let end: number;
      if (c === 34) {
        end = scanQuoted(s, j);
        if (end < 0) throw new SipParseError(`${what}: unterminated or invalid quoted parameter value`);
      } else if (c === 91) {
        end = scanHost(s, j);
        if (!isValidHost(s.slice(j, end))) throw new SipParseError(`${what}: invalid IPv6 reference`);
      } else {
        end = scanToken(s, j);
        // via-received = "received" EQUAL (IPv4address / IPv6address): an IPv6 address without brackets.
        if (name === 'received' && s.charCodeAt(end) === 58) end = scanChars(s, end, IPV6_CHARS);
        if (end === j) throw new SipParseError(`${what}: empty or invalid value for parameter ${name}`);
      }
      value = s.slice(j, end);
      j = end;
    } else {
      j = nameEnd;
    }
    if (!params.has(name)) params.set(name, value);
    i = j;
  }
};

/** Formats a parameter map as `;name=value…` (null values give a bare name). */
export const formatParams = (params: ReadonlyMap<string, string | null>): string => {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
};
