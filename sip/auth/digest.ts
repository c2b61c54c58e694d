/**
 * HTTP Digest authentication for SIP, server side (RFC 3261 §22.4, RFC 7616, RFC 8760 for
 * SHA-256). Nonces are stateless: `<timestamp>.<HMAC(secret, timestamp:realm)>` (base64url), so
 * any edge instance with the same secret accepts them until they expire; expired nonces get a new
 * challenge with `stale=true` (RFC 7616 §3.3). Replays of a nonce-count are refused by a small
 * in-memory record per nonce.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface DigestChallengeOptions {
  realm: string;
  secret: Buffer;
  /** Algorithms offered, most preferred first (default SHA-256 then MD5, RFC 8760 §2.4). */
  algorithms?: readonly DigestAlgorithm[];
  /** Nonce lifetime in ms (default 5 minutes). */
  nonceTtlMs?: number;
  now?: () => number;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  cnonce?: string;
  nc?: string;
  qop?: string;
  opaque?: string;
}

/** Parses a `Digest k=v, k="v"` credentials value (RFC 7616 §3.4). Undefined when not Digest or malformed. */
export const parseDigestCredentials = (value: string): DigestCredentials | undefined => {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m?.[1]) return undefined;
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)/gy;
  const text = m[1];
  let match: RegExpExecArray | null;
  let last = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: regex scanning loop
  while ((match = re.exec(text)) !== null) {
    const key = match[1]?.toLowerCase();
    const v = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    if (!key || params.has(key)) return undefined;
    params.set(key, v);
    last = re.lastIndex;
    if (last >= text.length) break;
  }
  if (text.slice(last).trim() !== '') return undefined;
  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || !nonce || uri === undefined || !response)
    return undefined;
  const alg = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (alg !== 'MD5' && alg !== 'SHA-256') return undefined;
  const creds: DigestCredentials = {
    username,
    realm,
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm: alg,
  };
  const cnonce = params.get('cnonce');
  const nc = params.get('nc');
  const qop = params.get('qop');
  const opaque = params.get('opaque');
  if (cnonce !== undefined) creds.cnonce = cnonce;
  if (nc !== undefined) creds.nc = nc;
  if (qop !== undefined) creds.qop = qop;
  if (opaque !== undefined) creds.opaque = opaque;
  return creds;
};

const hash = (alg: DigestAlgorithm, text: string): string =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(text, 'utf8')
    .digest('hex');

/** The expected `response` for HA1, method and credentials (RFC 7616 §3.4.1; RFC 2069 without qop). */
export const expectedResponse = (ha1: string, method: string, c: DigestCredentials): string => {
  const ha2 = hash(c.algorithm, `${method}:${c.uri}`);
  if (c.qop === 'auth') return hash(c.algorithm, `${ha1}:${c.nonce}:${c.nc}:${c.cnonce}:auth:${ha2}`);
  return hash(c.algorithm, `${ha1}:${c.nonce}:${ha2}`);
};

export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; reason: 'malformed' | 'realm' | 'nonce' | 'stale' | 'replay' | 'response' | 'unknown-user' };

export class DigestAuthenticator {
  private readonly ttl: number;
  private readonly now: () => number;
  /**
   * Highest nonce-count seen per nonce and cnonce, least recently used first; a nonce's entry goes once
   * the nonce is stale (a stale nonce is refused before its count is read), and the least recently used
   * beyond 100,000.
   */
  private readonly counts = new Map<string, number>();

  constructor(private readonly opts: DigestChallengeOptions) {
    this.ttl = opts.nonceTtlMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  private sign(ts: string): string {
    return createHmac('sha256', this.opts.secret)
      .update(`${ts}:${this.opts.realm}`)
      .digest('base64url')
      .slice(0, 32);
  }

  newNonce(): string {
    const ts = this.now().toString(36);
    return `${ts}.${this.sign(ts)}.${randomBytes(6).toString('base64url')}`;
  }

  /** `WWW-Authenticate`/`Proxy-Authenticate` values, most preferred first (RFC 8760 §2.4). */
  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    const opaque = createHmac('sha256', this.opts.secret).update(nonce).digest('base64url').slice(0, 16);
    return (this.opts.algorithms ?? (['SHA-256', 'MD5'] as const)).map(
      (alg) =>
        `Digest realm="${this.opts.realm}", nonce="${nonce}", opaque="${opaque}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /** Nonce-counts held (one per nonce and cnonce in use). */
  get trackedNonces(): number {
    return this.counts.size;
  }

  /** Whether a nonce issued at `issued` (ms) is older than the TTL. */
  private isStale(issued: number): boolean {
    return this.now() - issued > this.ttl;
  }

  /** Checks a nonce we issued: 'ok', 'stale' (ours but expired) or 'bad'. */
  checkNonce(nonce: string): 'ok' | 'stale' | 'bad' {
    const [ts, sig] = nonce.split('.');
    if (!ts || !sig) return 'bad';
    const expected = Buffer.from(this.sign(ts));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad';
    const issued = Number.parseInt(ts, 36);
    if (!Number.isFinite(issued) || issued > this.now() + 1000) return 'bad';
    return this.isStale(issued) ? 'stale' : 'ok';
  }

  /**
   * Verifies credentials for a request method, given a lookup of the user's HA1 for the
   * algorithm. The username is the digest username (user part of the MCPTT ID).
   */
  async verify(
    c: DigestCredentials,
    method: string,
    ha1For: (username: string, alg: DigestAlgorithm) => Promise<string | undefined>,
  ): Promise<DigestVerdict> {
    if (c.realm !== this.opts.realm) return { ok: false, reason: 'realm' };
    const nonceState = this.checkNonce(c.nonce);
    if (nonceState === 'bad') return { ok: false, reason: 'nonce' };
    // We always offer qop="auth"; answers without it (RFC 2069 style) have no nonce-count and could be
    // replayed within the nonce lifetime, so they are refused.
    if (c.qop !== 'auth' || !c.cnonce || !c.nc || !/^[0-9a-fA-F]{8}$/.test(c.nc)) {
      return { ok: false, reason: 'malformed' };
    }
    const ha1 = await ha1For(c.username, c.algorithm);
    if (!ha1) return { ok: false, reason: 'unknown-user' };
    const want = Buffer.from(expectedResponse(ha1, method, c));
    const got = Buffer.from(c.response);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'response' };
    if (nonceState === 'stale') return { ok: false, reason: 'stale' };
    if (c.nc) {
      const nc = Number.parseInt(c.nc, 16);
      const key = `${c.nonce}|${c.cnonce}`;
      const seen = this.counts.get(key) ?? 0;
      if (nc <= seen) return { ok: false, reason: 'replay' };
      this.counts.delete(key);
      this.counts.set(key, nc);
      for (const k of this.counts.keys()) {
        // A key starts with its nonce, and a nonce with its issue time (base 36, see newNonce).
        if (this.counts.size <= 100_000 && !this.isStale(Number.parseInt(k.slice(0, k.indexOf('.')), 36)))
          break;
        this.counts.delete(k);
      }
    }
    return { ok: true, username: c.username };
  }
}
