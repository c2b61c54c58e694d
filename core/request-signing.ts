/**
 * Signed requests between partner systems: HMAC-SHA256 (RFC 2104, FIPS 180-4) over a canonical
 * form of the request, keyed by the shared key of the service provider agreement
 * (`PartnerAgreement.key`, base64url).
 *
 * Replay protection is split: {@link verifySignedRequest} checks the signature and the clock skew
 * and returns the nonce and timestamp; the CALLER must then record the nonce (per sender) in the
 * store for at least `2 * maxSkewMs` and reject a nonce seen before.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badRequest, unauthenticated } from './errors.ts';
import { normalizeDomain } from './ids.ts';
import type { EpochMs, SystemDomain } from './model.ts';

/** Lower-case header names of a signed partner request. */
export const SIGNATURE_HEADERS = Object.freeze({
  /** The sender's system domain. */
  system: 'x-mcptt-system',
  /** `PartnerAgreement.keyId` of the key used. */
  keyId: 'x-mcptt-key-id',
  /** Epoch milliseconds, decimal. */
  timestamp: 'x-mcptt-timestamp',
  /** At least 16 random bytes, base64url. */
  nonce: 'x-mcptt-nonce',
  /** base64url HMAC-SHA256 of {@link canonicalRequest}. */
  signature: 'x-mcptt-signature',
});

/** First line of the canonical request, naming the scheme. */
export const SIGNATURE_ALGORITHM = 'MCPTT-HMAC-SHA256';
/** Default tolerated clock difference between sender and receiver (5 min). */
export const DEFAULT_MAX_SKEW_MS = 300_000;
/** Minimum nonce entropy in bytes. */
export const MIN_NONCE_BYTES = 16;

/** A request body: text (hashed as UTF-8) or bytes; absent is the same as empty. */
export type SignedBody = string | Uint8Array | undefined;

/** The parts of a request covered by the signature. */
export interface CanonicalRequestParts {
  method: string;
  /** Request path; any query string is ignored. */
  path: string;
  /** Sender's system domain. */
  sender: SystemDomain;
  /** Receiver's system domain. */
  target: SystemDomain;
  keyId: string;
  timestamp: number | string;
  nonce: string;
  body?: SignedBody;
}

const sha256Hex = (body: SignedBody): string =>
  createHash('sha256')
    .update(body ?? '')
    .digest('hex');

/**
 * The string that is signed, lines joined by `\n`:
 * `MCPTT-HMAC-SHA256`, upper-case method, path without query string, sender, target, key id,
 * timestamp, nonce, lower-case hex SHA-256 of the body (of the empty string when there is none).
 */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  const q = parts.path.indexOf('?');
  return [
    SIGNATURE_ALGORITHM,
    parts.method.toUpperCase(),
    q < 0 ? parts.path : parts.path.slice(0, q),
    parts.sender,
    parts.target,
    parts.keyId,
    String(parts.timestamp),
    parts.nonce,
    sha256Hex(parts.body),
  ].join('\n');
}

const B64URL_KEY = /^[A-Za-z0-9_-]+={0,2}$/;

/** Decodes a base64url key; undefined when malformed or empty. */
function keyBytes(key: string): Buffer | undefined {
  if (typeof key !== 'string' || !B64URL_KEY.test(key)) return undefined;
  const bytes = Buffer.from(key, 'base64url');
  return bytes.length > 0 ? bytes : undefined;
}

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** A fresh nonce: {@link MIN_NONCE_BYTES} random bytes, base64url. */
export function newNonce(): string {
  return randomBytes(MIN_NONCE_BYTES).toString('base64url');
}

/**
 * Signs a partner request and returns the five {@link SIGNATURE_HEADERS} to send with it.
 * `sender` and `target` are normalized as domains; `key` is the agreement's base64url key.
 * @throws DomainError `bad_request` when the key is not base64url or a domain is invalid.
 */
export function signRequest(args: {
  method: string;
  path: string;
  sender: SystemDomain;
  target: SystemDomain;
  keyId: string;
  key: string;
  body?: SignedBody;
  now: EpochMs;
  nonce?: string;
}): Record<string, string> {
  const key = keyBytes(args.key);
  if (key === undefined) throw badRequest(`signing key ${JSON.stringify(args.keyId)} is not base64url`);
  if (args.keyId === '') throw badRequest('signing key id must not be empty');
  const sender = normalizeDomain(args.sender);
  const target = normalizeDomain(args.target);
  const timestamp = String(Math.trunc(args.now));
  const nonce = args.nonce ?? newNonce();
  const signature = hmac(
    key,
    canonicalRequest({ ...args, sender, target, timestamp, nonce, body: args.body }),
  ).toString('base64url');
  return {
    [SIGNATURE_HEADERS.system]: sender,
    [SIGNATURE_HEADERS.keyId]: args.keyId,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: signature,
  };
}

/** What a verified request proves. */
export interface VerifiedRequest {
  sender: SystemDomain;
  keyId: string;
  /** For replay detection by the caller. */
  nonce: string;
  timestamp: number;
}

function header(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  let v = headers[name];
  if (v === undefined) {
    const k = Object.keys(headers).find((h) => h.toLowerCase() === name);
    if (k !== undefined) v = headers[k];
  }
  if (Array.isArray(v)) v = v.length === 1 ? v[0] : undefined;
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

/**
 * Verifies a signed partner request. Checks, in order: all five headers present; sender is a
 * lower-case domain; `lookupKey(sender, keyId)` knows the key; timestamp is a decimal integer;
 * `|now - timestamp| <= maxSkewMs`; nonce is base64url of at least 16 bytes; signature matches
 * (constant-time comparison).
 *
 * Replay detection is NOT done here: the caller must check that `nonce` was not seen before for
 * this sender (keep nonces at least `2 * maxSkewMs`), then record it.
 *
 * @param args.target our own system domain (the receiver).
 * @param args.headers request headers, lower-case names (other cases are found too).
 * @throws DomainError `unauthenticated` with one of the messages:
 *   `missing signature header <name>`, `malformed x-mcptt-system header`,
 *   `unknown sender <domain> or key id <id>`, `timestamp is not a number`,
 *   `request expired (timestamp N ms older than allowed skew)`,
 *   `timestamp too far in the future`, `malformed nonce`, `bad signature`.
 */
export function verifySignedRequest(args: {
  method: string;
  path: string;
  target: SystemDomain;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body?: SignedBody;
  now: EpochMs;
  maxSkewMs?: number;
  lookupKey: (sender: SystemDomain, keyId: string) => string | undefined;
}): VerifiedRequest {
  const maxSkewMs = args.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const values = {} as Record<keyof typeof SIGNATURE_HEADERS, string>;
  for (const [field, name] of Object.entries(SIGNATURE_HEADERS) as [
    keyof typeof SIGNATURE_HEADERS,
    string,
  ][]) {
    const v = header(args.headers, name);
    if (v === undefined) throw unauthenticated(`missing signature header ${name}`);
    values[field] = v;
  }
  const { keyId, nonce } = values;
  let sender: SystemDomain;
  try {
    sender = normalizeDomain(values.system);
  } catch {
    throw unauthenticated(`malformed ${SIGNATURE_HEADERS.system} header`);
  }
  if (sender !== values.system)
    throw unauthenticated(`malformed ${SIGNATURE_HEADERS.system} header (not lower-case)`);

  const rawKey = args.lookupKey(sender, keyId);
  if (rawKey === undefined) throw unauthenticated(`unknown sender ${sender} or key id ${keyId}`);
  const key = keyBytes(rawKey);
  if (key === undefined) throw unauthenticated(`no usable key for sender ${sender} key id ${keyId}`);

  if (!/^[0-9]{1,16}$/.test(values.timestamp)) throw unauthenticated('timestamp is not a number');
  const timestamp = Number(values.timestamp);
  if (args.now - timestamp > maxSkewMs) {
    throw unauthenticated(
      `request expired (timestamp ${args.now - timestamp} ms old, at most ${maxSkewMs} allowed)`,
    );
  }
  if (timestamp - args.now > maxSkewMs) {
    throw unauthenticated(
      `timestamp too far in the future (${timestamp - args.now} ms ahead, at most ${maxSkewMs})`,
    );
  }
  if (!/^[A-Za-z0-9_-]+$/.test(nonce) || Buffer.from(nonce, 'base64url').length < MIN_NONCE_BYTES) {
    throw unauthenticated(`malformed nonce (base64url of at least ${MIN_NONCE_BYTES} bytes expected)`);
  }

  let target: SystemDomain;
  try {
    target = normalizeDomain(args.target);
  } catch {
    throw unauthenticated('bad signature');
  }
  const expected = hmac(
    key,
    canonicalRequest({
      method: args.method,
      path: args.path,
      sender,
      target,
      keyId,
      timestamp: values.timestamp,
      nonce,
      body: args.body,
    }),
  );
  const given = /^[A-Za-z0-9_-]+$/.test(values.signature)
    ? Buffer.from(values.signature, 'base64url')
    : undefined;
  if (
    given === undefined ||
    given.toString('base64url') !== values.signature || // only the canonical encoding
    given.length !== expected.length ||
    !timingSafeEqual(given, expected)
  ) {
    throw unauthenticated('bad signature');
  }
  return { sender, keyId, nonce, timestamp };
}
