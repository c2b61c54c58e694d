/**
 * Bearer tokens for the admin/dispatcher API: HS256 JWTs issued by POST /auth/token and checked
 * by every `token` route. Issuer and audience are the system's domain, so a token of one system
 * is worthless on another.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Principal } from '#core/authorization.ts';
import { unauthenticated } from '#core/errors.ts';
import type { Role, SipUri, SystemDomain } from '#core/model.ts';

export interface TokenService {
  issue(p: Principal): Promise<{ token: string; expiresIn: number }>;
  verify(token: string): Promise<Principal>;
}

const ROLES: readonly Role[] = ['user', 'dispatcher', 'admin'];

export const createTokenService = (opts: {
  system: SystemDomain;
  /** The signing key, or a loader (read on first use, so functions that never need it never fetch it). */
  secret: string | (() => Promise<string>);
  ttlSeconds?: number;
  now?: () => number;
}): TokenService => {
  const loadSecret = opts.secret;
  let keyPromise: Promise<Uint8Array> | undefined;
  const key = (): Promise<Uint8Array> => {
    if (!keyPromise) {
      keyPromise = (typeof loadSecret === 'string' ? Promise.resolve(loadSecret) : loadSecret()).then((s) =>
        new TextEncoder().encode(s),
      );
      keyPromise.catch(() => {
        keyPromise = undefined;
      });
    }
    return keyPromise;
  };
  const ttl = opts.ttlSeconds ?? 8 * 3600;
  const nowSeconds = () => Math.floor((opts.now ?? Date.now)() / 1000);
  return {
    async issue(p) {
      const iat = nowSeconds();
      const token = await new SignJWT({ roles: p.roles })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(p.mcpttId)
        .setIssuer(opts.system)
        .setAudience(opts.system)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttl)
        .sign(await key());
      return { token, expiresIn: ttl };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, await key(), {
          issuer: opts.system,
          audience: opts.system,
          algorithms: ['HS256'],
          currentDate: new Date(nowSeconds() * 1000),
        });
        const roles = Array.isArray(payload.roles)
          ? payload.roles.filter((r): r is Role => ROLES.includes(r as Role))
          : [];
        if (!payload.sub) throw unauthenticated('token has no subject');
        return { mcpttId: payload.sub as SipUri, roles };
      } catch (e) {
        if (e instanceof errors.JWTExpired) throw unauthenticated('bearer token expired');
        if (e instanceof errors.JOSEError) throw unauthenticated(`bearer token rejected: ${e.message}`);
        throw e;
      }
    },
  };
};
