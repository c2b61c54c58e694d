/**
 * SIP digest credentials (RFC 3261 §22.4, RFC 7616, RFC 8760) and password hashing for API
 * log-in. Only hashes are ever stored (see `UserCredentials` in model.ts).
 *
 * Username/realm rule: the digest username of a user is the user part of the MCPTT ID, and the
 * realm is the system domain (the host of the MCPTT ID), e.g. `alice` / `primary.example` for
 * `sip:alice@primary.example`.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { badRequest } from './errors.ts';
import { userPartOf } from './ids.ts';
import type { SipUri, UserCredentials } from './model.ts';

/** Digest algorithms supported for SIP (RFC 3261 §22.4 MD5, RFC 8760 SHA-256). */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** Human-readable statement of the username/realm rule, for documentation and error messages. */
export const DIGEST_USERNAME =
  'the digest username is the user part of the MCPTT ID; the realm is the system domain' as const;

/** The digest username of a user: the user part of the MCPTT ID (see {@link DIGEST_USERNAME}). */
export function digestUsername(mcpttId: SipUri): string {
  return userPartOf(mcpttId);
}

/**
 * HA1 = H(username ":" realm ":" password) as lower-case hex (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2),
 * with H = MD5 or SHA-256 (RFC 8760). Strings are hashed as UTF-8.
 */
export function computeHa1(
  username: string,
  realm: string,
  password: string,
  algorithm: DigestAlgorithm,
): string {
  const h = algorithm === 'MD5' ? 'md5' : algorithm === 'SHA-256' ? 'sha256' : undefined;
  if (h === undefined) throw badRequest(`unsupported digest algorithm ${JSON.stringify(algorithm)}`);
  return createHash(h).update(`${username}:${realm}:${password}`, 'utf8').digest('hex');
}

/** scrypt cost defaults (RFC 7914 parameters N, r, p) and output sizes. */
export const SCRYPT_DEFAULTS = Object.freeze({ N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 });
/** Upper bounds accepted when verifying a stored hash, so a bad record cannot exhaust memory. */
const SCRYPT_MAX = { N: 1 << 20, r: 32, p: 16 };

const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0;
const maxmemFor = (N: number, r: number, p: number): number => 128 * N * r + 128 * r * p + 32 * 1024 * 1024;

/**
 * Hashes a password for API log-in with scrypt (random 16-byte salt, N = 16384 by default, r = 8,
 * p = 1, 32-byte key). Format `scrypt$N$r$p$salt$hash`, salt and hash base64url.
 * @throws DomainError `bad_request` when `opts.N` is not a power of two in 2..2^20.
 */
export function hashPassword(password: string, opts: { N?: number } = {}): string {
  const N = opts.N ?? SCRYPT_DEFAULTS.N;
  if (!isPowerOfTwo(N) || N > SCRYPT_MAX.N)
    throw badRequest(`scrypt N must be a power of two in 2..2^20, got ${N}`);
  const { r, p } = SCRYPT_DEFAULTS;
  const salt = randomBytes(SCRYPT_DEFAULTS.saltBytes);
  const hash = scryptSync(password.normalize('NFC'), salt, SCRYPT_DEFAULTS.keyBytes, {
    N,
    r,
    p,
    maxmem: maxmemFor(N, r, p),
  });
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const INT = /^[1-9][0-9]{0,7}$/;

/**
 * Checks `password` against a {@link hashPassword} string in constant time (timingSafeEqual).
 * Answers `false` — never throws — for a wrong password or a malformed/unsupported stored string.
 * Passwords are NFC-normalized on both sides.
 */
export function verifyPassword(password: string, stored: string): boolean {
  try {
    if (typeof password !== 'string' || typeof stored !== 'string') return false;
    const parts = stored.split('$');
    if (parts.length !== 6) return false;
    const [tag, ns, rs, ps, saltS, hashS] = parts as [string, string, string, string, string, string];
    if (tag !== 'scrypt' || !INT.test(ns) || !INT.test(rs) || !INT.test(ps)) return false;
    if (!B64URL.test(saltS) || !B64URL.test(hashS)) return false;
    const [N, r, p] = [Number(ns), Number(rs), Number(ps)];
    if (!isPowerOfTwo(N) || N > SCRYPT_MAX.N || r > SCRYPT_MAX.r || p > SCRYPT_MAX.p) return false;
    const salt = Buffer.from(saltS, 'base64url');
    const expected = Buffer.from(hashS, 'base64url');
    if (salt.length < 8 || expected.length < 16 || expected.length > 64) return false;
    const actual = scryptSync(password.normalize('NFC'), salt, expected.length, {
      N,
      r,
      p,
      maxmem: maxmemFor(N, r, p),
    });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

/**
 * The stored credentials of a user: HA1 for MD5 and SHA-256 digest under `realm` with the
 * username of {@link digestUsername}, and a scrypt hash for API log-in. The password itself is
 * not kept.
 * @throws DomainError `bad_request` when `mcpttId` is not a valid identity or `realm` is empty.
 */
export function credentialsFor(mcpttId: SipUri, realm: string, password: string): UserCredentials {
  if (realm.trim() === '') throw badRequest('digest realm must not be empty');
  const username = digestUsername(mcpttId);
  return {
    realm,
    ha1Md5: computeHa1(username, realm, password, 'MD5'),
    ha1Sha256: computeHa1(username, realm, password, 'SHA-256'),
    passwordHash: hashPassword(password),
  };
}
