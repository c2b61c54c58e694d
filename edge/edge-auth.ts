/**
 * Digest authentication of requests arriving at the edge (RFC 3261 §22), against the HA1 hashes
 * the system's functions keep. REGISTER and PUBLISH are answered by a registrar / presence
 * server role (401 + WWW-Authenticate, §22.2); INVITE and the rest by a proxy role (407 +
 * Proxy-Authenticate, §22.3). HA1 lookups are cached briefly.
 */
import { type DigestAlgorithm, DigestAuthenticator, parseDigestCredentials } from '../sip/auth/digest.ts';
import { createResponse } from '../sip/message/accessors.ts';
import type { SipRequest, SipResponse } from '../sip/message/types.ts';
import type { Credentials, FunctionsClient } from './functions-client.ts';

export type AuthResult = { ok: true; mcpttId: string } | { ok: false; response: SipResponse };

const CACHE_MS = 30_000;

export class EdgeAuth {
  private readonly digest: DigestAuthenticator;
  private readonly cache = new Map<string, { at: number; creds: Credentials | undefined }>();

  constructor(
    private readonly domain: string,
    private readonly functions: Pick<FunctionsClient, 'credentials'>,
    secret: Buffer,
    private readonly now: () => number = Date.now,
    algorithms?: readonly DigestAlgorithm[],
  ) {
    this.digest = new DigestAuthenticator({
      realm: domain,
      secret,
      now,
      ...(algorithms ? { algorithms } : {}),
    });
  }

  private async credentials(username: string): Promise<Credentials | undefined> {
    const hit = this.cache.get(username);
    if (hit && this.now() - hit.at < CACHE_MS) return hit.creds;
    const creds = await this.functions.credentials(`sip:${username}@${this.domain}`);
    this.cache.set(username, { at: this.now(), creds });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    return creds;
  }

  private challenge(req: SipRequest, proxy: boolean, stale = false): SipResponse {
    const header = proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const status = proxy ? 407 : 401;
    return createResponse(req, status, undefined, {
      toTag: undefined,
      headers: this.digest.challenges(stale).map((c) => [header, c] as [string, string]),
    });
  }

  /** Authenticates a request; a failed attempt gets a fresh challenge (never reveals why). */
  async authenticate(req: SipRequest): Promise<AuthResult> {
    const proxy = req.method !== 'REGISTER' && req.method !== 'PUBLISH';
    const values = req.headers.getAll(proxy ? 'Proxy-Authorization' : 'Authorization');
    // Several credentials (one per realm, §22.4) may be present: use the one for our realm.
    const creds = values.map(parseDigestCredentials).find((c) => c?.realm === this.domain);
    if (!creds) return { ok: false, response: this.challenge(req, proxy) };
    const verdict = await this.digest.verify(creds, req.method, async (username, alg: DigestAlgorithm) => {
      const c = await this.credentials(username);
      return c ? (alg === 'MD5' ? c.ha1Md5 : c.ha1Sha256) : undefined;
    });
    if (!verdict.ok) return { ok: false, response: this.challenge(req, proxy, verdict.reason === 'stale') };
    return { ok: true, mcpttId: `sip:${verdict.username}@${this.domain}` };
  }
}
