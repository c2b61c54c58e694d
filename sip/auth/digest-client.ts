/**
 * HTTP Digest authentication for SIP, client side (RFC 3261 §22.2 and §22.3, RFC 7616 §3.3 and §3.4,
 * RFC 8760 for SHA-256): read a WWW-Authenticate / Proxy-Authenticate challenge and answer it with
 * an Authorization / Proxy-Authorization value. The response is computed by digest.ts, the server
 * side, so both sides agree by construction. Used by the test and benchmark user agents.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type DigestAlgorithm, type DigestCredentials, expectedResponse } from './digest.ts';

/**
 * The parameters of a `Digest …` challenge, names lower-cased, quoted values unquoted (RFC 7616
 * §3.3). Lenient: whatever is not `name=value` is skipped, and an empty map means no Digest challenge.
 */
export const parseDigestChallengeParams = (value: string): Map<string, string> => {
  const params = new Map<string, string>();
  const body = /^\s*Digest\s+(.*)$/is.exec(value)?.[1] ?? '';
  for (const m of body.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params.set((m[1] ?? '').toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return params;
};

/** A challenge as a user agent keeps it to answer this and later requests. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  /** Echoed unchanged in every answer (RFC 7616 §3.3). */
  opaque?: string;
  /** `qop` offered `auth`: the answer then carries qop, nc and cnonce (RFC 7616 §3.4). */
  qopAuth: boolean;
}

/**
 * Reads a challenge. Throws on a value that is not a Digest challenge with a nonce, or on an
 * algorithm other than MD5 and SHA-256 (absent means MD5, RFC 7616 §3.3): answering it would only
 * earn another challenge.
 */
export const parseDigestChallenge = (value: string): DigestChallenge => {
  const p = parseDigestChallengeParams(value);
  const nonce = p.get('nonce');
  if (!nonce) throw new Error(`not a Digest challenge with a nonce: ${value}`);
  const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256')
    throw new Error(`digest algorithm ${algorithm} is not supported`);
  const opaque = p.get('opaque');
  return {
    realm: p.get('realm') ?? '',
    nonce,
    algorithm,
    qopAuth: (p.get('qop') ?? '').split(',').some((q) => q.trim().toLowerCase() === 'auth'),
    ...(opaque !== undefined ? { opaque } : {}),
  };
};

/** What an answer is computed from, besides the challenge. */
export interface DigestAnswer {
  username: string;
  password: string;
  method: string;
  /** The digest-uri: the Request-URI (RFC 3261 §22.4). */
  uri: string;
  /** Another nonce than the challenge's (tests of forged or expired nonces). */
  nonce?: string;
  /** The nonce-count; default 1 (a fresh cnonce per answer keeps 1 right). */
  nc?: number;
  /** Default: 8 random bytes, hex. */
  cnonce?: string;
  /** Answer RFC 2069 style, without qop, even when qop=auth was offered. */
  noQop?: boolean;
}

/** The Authorization / Proxy-Authorization value answering `challenge` (RFC 7616 §3.4). */
export const answerDigestChallenge = (challenge: DigestChallenge, a: DigestAnswer): string => {
  const { realm, algorithm, opaque } = challenge;
  const creds: DigestCredentials = {
    username: a.username,
    realm,
    nonce: a.nonce ?? challenge.nonce,
    uri: a.uri,
    response: '',
    algorithm,
  };
  const qop = challenge.qopAuth && !a.noQop;
  if (qop) {
    creds.qop = 'auth';
    creds.nc = (a.nc ?? 1).toString(16).padStart(8, '0');
    creds.cnonce = a.cnonce ?? randomBytes(8).toString('hex');
  }
  const ha1 = createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(`${a.username}:${realm}:${a.password}`)
    .digest('hex');
  return [
    `Digest username="${a.username}"`,
    `realm="${realm}"`,
    `nonce="${creds.nonce}"`,
    `uri="${a.uri}"`,
    `response="${expectedResponse(ha1, a.method, creds)}"`,
    `algorithm=${algorithm}`,
    ...(qop ? [`cnonce="${creds.cnonce}"`, `nc=${creds.nc}`, 'qop=auth'] : []),
    ...(opaque !== undefined ? [`opaque="${opaque}"`] : []),
  ].join(', ');
};
