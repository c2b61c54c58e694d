/**
 * Normalization of MCPTT identities (MCPTT ID, MCPTT group ID, TGI), which are SIP URIs
 * (TS 23.280 §8.1.2, §8.1.3), and of system domains.
 *
 * The normal form is `sip:<user>@<host>`: scheme `sip`, user part case preserved with
 * unreserved characters percent-decoded and other escapes upper-cased, host lower-cased,
 * no port, no URI parameters, no headers.
 */
import { badRequest } from './errors.ts';
import type { SipUri, SystemDomain } from './model.ts';

/** Longest accepted identity, input (trimmed) and normal form alike. */
export const MAX_SIP_URI_LENGTH = 256;
/** Longest DNS name (RFC 1035 §2.3.4). */
export const MAX_DOMAIN_LENGTH = 253;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** RFC 1035 §2.3.1 label (letters, digits, hyphen; no leading/trailing hyphen), lower-case. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * RFC 3261 §25.1 unreserved = alphanum / mark. Per RFC 3261 §19.1.4 "characters other than
 * those in the reserved set are equivalent to their %HEX HEX encoding", so these are decoded.
 * This is a superset of the RFC 3986 §2.3 unreserved set (ALPHA / DIGIT / - . _ ~).
 */
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;
/** Characters allowed literally in the user part: unreserved / user-unreserved (RFC 3261 §25.1). */
const USER_LITERAL = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]$/;

const quote = (s: string): string => JSON.stringify(s);

/** Validates a host name and returns it lower-cased; throws with `what` naming the context. */
function normalizeHost(rawHost: string, input: string, what: string): string {
  if (rawHost === '') throw badRequest(`invalid ${what} ${quote(input)}: empty host`);
  if (rawHost.startsWith('[')) {
    throw badRequest(`invalid ${what} ${quote(input)}: IP literal hosts are not supported`);
  }
  if (/:\d*$/.test(rawHost)) {
    throw badRequest(`invalid ${what} ${quote(input)}: a port is not allowed in an identity`);
  }
  const host = rawHost.toLowerCase();
  if (host.length > MAX_DOMAIN_LENGTH) {
    throw badRequest(`invalid ${what} ${quote(input)}: host longer than ${MAX_DOMAIN_LENGTH} characters`);
  }
  const labels = host.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      throw badRequest(
        `invalid ${what} ${quote(input)}: invalid host ${quote(rawHost)} (DNS labels of letters, digits and inner hyphens expected)`,
      );
    }
  }
  return host;
}

/** Validates the user part and returns it with RFC 3261 §19.1.4 escape normalization applied. */
function normalizeUser(rawUser: string, input: string): string {
  if (rawUser === '') throw badRequest(`invalid SIP URI ${quote(input)}: empty user part`);
  let out = '';
  for (let i = 0; i < rawUser.length; i++) {
    const c = rawUser.charAt(i);
    if (c === '%') {
      const hex = rawUser.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw badRequest(`invalid SIP URI ${quote(input)}: malformed percent-escape in user part`);
      }
      const decoded = String.fromCharCode(Number.parseInt(hex, 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (USER_LITERAL.test(c)) {
      out += c;
    } else {
      throw badRequest(`invalid SIP URI ${quote(input)}: invalid character ${quote(c)} in user part`);
    }
  }
  return out;
}

/** Parses any accepted form into its normalized user and host. */
function parse(input: string, defaultDomain?: string): { user: string; host: string } {
  if (typeof input !== 'string') throw badRequest('invalid SIP URI: not a string');
  const s = input.trim();
  if (s === '') throw badRequest('invalid SIP URI "": empty');
  if (s.length > MAX_SIP_URI_LENGTH) {
    throw badRequest(
      `invalid SIP URI ${quote(s.slice(0, 40))}...: longer than ${MAX_SIP_URI_LENGTH} characters`,
    );
  }
  if (/\s/.test(s)) throw badRequest(`invalid SIP URI ${quote(s)}: contains whitespace`);

  let rest = s;
  let hadScheme = false;
  const scheme = SCHEME.exec(s);
  // `alice:pw@host` would look like a scheme `alice`: the password form is refused anyway.
  if (scheme?.[1] !== undefined) {
    const name = scheme[1].toLowerCase();
    if (name !== 'sip') {
      const hint = name === 'sips' ? ' (sips: is not supported, use sip:)' : ' (only sip: URIs are accepted)';
      throw badRequest(`invalid SIP URI ${quote(s)}: unsupported scheme ${quote(`${name}:`)}${hint}`);
    }
    rest = s.slice(scheme[0].length);
    hadScheme = true;
  }

  const at = rest.indexOf('@');
  let rawUser: string;
  let hostPart: string;
  if (at < 0) {
    if (hadScheme) throw badRequest(`invalid SIP URI ${quote(s)}: empty user part (no "@")`);
    if (defaultDomain === undefined) {
      throw badRequest(`invalid SIP URI ${quote(s)}: missing "@host" and no default domain`);
    }
    rawUser = rest;
    hostPart = defaultDomain;
  } else {
    rawUser = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
  }
  // RFC 3261 §19.1.1: hostport [ ;uri-parameters ] [ ?headers ]. Neither may contain "@".
  if (hostPart.includes('@')) throw badRequest(`invalid SIP URI ${quote(s)}: more than one "@"`);
  const cut = hostPart.search(/[;?]/);
  const rawHost = cut < 0 ? hostPart : hostPart.slice(0, cut);
  const user = normalizeUser(rawUser, s);
  const host = normalizeHost(rawHost, s, 'SIP URI');
  if (5 + user.length + host.length > MAX_SIP_URI_LENGTH) {
    throw badRequest(`invalid SIP URI ${quote(s)}: longer than ${MAX_SIP_URI_LENGTH} characters`);
  }
  return { user, host };
}

/**
 * Normalizes an identity to `sip:user@host`.
 *
 * Accepts `alice` (only with `defaultDomain`), `alice@host` and `sip:alice@host` (scheme
 * case-insensitive); trims; lower-cases the host (RFC 3261 §19.1.4: host case-insensitive, user
 * case-sensitive); strips URI parameters and headers; decodes escaped unreserved characters in the
 * user part and upper-cases other escapes (RFC 3261 §19.1.4, RFC 3986 §2.3).
 *
 * @throws DomainError `bad_request` whose message quotes the input and says what is wrong: other
 *   schemes (`sips:`, `tel:`...), empty user or host, whitespace, invalid characters, a port,
 *   more than 256 characters.
 */
export function normalizeSipUri(input: string, defaultDomain?: string): SipUri {
  const { user, host } = parse(input, defaultDomain);
  return `sip:${user}@${host}`;
}

/** Like {@link normalizeSipUri} but answers `undefined` instead of throwing. */
export function tryNormalizeSipUri(input: string, defaultDomain?: string): SipUri | undefined {
  try {
    return normalizeSipUri(input, defaultDomain);
  } catch {
    return undefined;
  }
}

/**
 * The system domain (lower-case host) of an identity. The argument is normalized first, so
 * un-normalized URIs are accepted too.
 * @throws DomainError `bad_request` when `uri` is not a valid identity.
 */
export function domainOf(uri: SipUri): SystemDomain {
  return parse(uri).host;
}

/**
 * The (normalized) user part of an identity.
 * @throws DomainError `bad_request` when `uri` is not a valid identity.
 */
export function userPartOf(uri: SipUri): string {
  return parse(uri).user;
}

/**
 * Normalizes a system domain: trimmed, lower-cased DNS name (RFC 1035 §2.3.1 labels, at most
 * 253 characters), no scheme, port, user or trailing dot.
 * @throws DomainError `bad_request` quoting the input.
 */
export function normalizeDomain(input: string): SystemDomain {
  if (typeof input !== 'string') throw badRequest('invalid domain: not a string');
  const s = input.trim();
  if (s === '') throw badRequest('invalid domain "": empty');
  if (/\s/.test(s)) throw badRequest(`invalid domain ${quote(s)}: contains whitespace`);
  if (s.includes('@') || s.includes('/')) {
    throw badRequest(`invalid domain ${quote(s)}: a bare DNS name is expected`);
  }
  return normalizeHost(s, s, 'domain');
}
