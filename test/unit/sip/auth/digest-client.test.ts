import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type DigestAlgorithm,
  DigestAuthenticator,
  parseDigestCredentials,
} from '../../../../sip/auth/digest.ts';
import {
  answerDigestChallenge,
  parseDigestChallenge,
  parseDigestChallengeParams,
} from '../../../../sip/auth/digest-client.ts';

const ha1Of = (alg: DigestAlgorithm, user: string, realm: string, password: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(`${user}:${realm}:${password}`)
    .digest('hex');

describe('Function: parseDigestChallengeParams', () => {
  it('reads quoted and token values, names lower-cased, quoted-pairs unescaped', () => {
    const p = parseDigestChallengeParams(
      'Digest Realm="a \\"b\\"", nonce="n,1", algorithm=SHA-256, qop="auth", stale=TRUE',
    );
    expect(Object.fromEntries(p)).toEqual({
      realm: 'a "b"',
      nonce: 'n,1',
      algorithm: 'SHA-256',
      qop: 'auth',
      stale: 'TRUE',
    });
  });

  it('gives nothing for another scheme', () => {
    expect(parseDigestChallengeParams('Basic realm="x"').size).toBe(0);
  });
});

describe('Function: parseDigestChallenge', () => {
  it('takes MD5 when no algorithm is named, and qop=auth from a list', () => {
    expect(parseDigestChallenge('Digest realm="r", nonce="n", qop="auth-int, auth", opaque="o"')).toEqual({
      realm: 'r',
      nonce: 'n',
      algorithm: 'MD5',
      qopAuth: true,
      opaque: 'o',
    });
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=sha-256').algorithm).toBe('SHA-256');
    expect(parseDigestChallenge('Digest realm="r", nonce="n", qop="auth-int"').qopAuth).toBe(false);
  });

  it('refuses what it cannot answer: another scheme, no nonce, an unsupported algorithm', () => {
    expect(() => parseDigestChallenge('Basic realm="x"')).toThrow(/not a Digest challenge/);
    expect(() => parseDigestChallenge('Digest realm="x"')).toThrow(/not a Digest challenge/);
    expect(() => parseDigestChallenge('Digest realm="x", nonce="n", algorithm=SHA-512-256')).toThrow(
      'digest algorithm SHA-512-256 is not supported',
    );
  });
});

describe('Function: answerDigestChallenge', () => {
  for (const alg of ['SHA-256', 'MD5'] as const) {
    it(`answers the server's ${alg} challenge so that it verifies, once per nonce-count`, async () => {
      const server = new DigestAuthenticator({ realm: 'primary.example', secret: Buffer.alloc(32, 7) });
      const offer = server.challenges().find((v) => parseDigestChallenge(v).algorithm === alg);
      if (!offer) throw new Error(`no ${alg} offer`);
      const ha1For = async (user: string, a: DigestAlgorithm) =>
        user === 'alice' ? ha1Of(a, 'alice', 'primary.example', 'secret') : undefined;
      const answer = (o: { password?: string; nc?: number }) =>
        answerDigestChallenge(parseDigestChallenge(offer), {
          username: 'alice',
          password: o.password ?? 'secret',
          method: 'INVITE',
          uri: 'sip:tgi@primary.example',
          cnonce: 'c1',
          ...(o.nc !== undefined ? { nc: o.nc } : {}),
        });
      const creds = (v: string) => {
        const c = parseDigestCredentials(v);
        if (!c) throw new Error(`unparseable: ${v}`);
        return c;
      };
      const first = creds(answer({}));
      expect(first).toMatchObject({ algorithm: alg, qop: 'auth', nc: '00000001', cnonce: 'c1' });
      expect(await server.verify(first, 'INVITE', ha1For)).toEqual({ ok: true, username: 'alice' });
      expect(await server.verify(first, 'INVITE', ha1For)).toEqual({ ok: false, reason: 'replay' });
      expect(await server.verify(creds(answer({ nc: 2 })), 'INVITE', ha1For)).toEqual({
        ok: true,
        username: 'alice',
      });
      expect(await server.verify(creds(answer({ nc: 3, password: 'wrong' })), 'INVITE', ha1For)).toEqual({
        ok: false,
        reason: 'response',
      });
      // The method is part of the response (HA2): the same answer does not authorize a REGISTER.
      expect(await server.verify(creds(answer({ nc: 4 })), 'REGISTER', ha1For)).toEqual({
        ok: false,
        reason: 'response',
      });
    });
  }

  it('answers RFC 2069 style when asked or when no qop is offered, and echoes the opaque value', () => {
    const c = parseDigestChallenge('Digest realm="r", nonce="n", opaque="xyz"');
    const v = answerDigestChallenge(c, { username: 'u', password: 'p', method: 'REGISTER', uri: 'sip:r' });
    expect(v).not.toMatch(/qop|cnonce|nc=/);
    expect(v).toContain('opaque="xyz"');
    const withQop = parseDigestChallenge('Digest realm="r", nonce="n", qop="auth"');
    const noQop = answerDigestChallenge(withQop, {
      username: 'u',
      password: 'p',
      method: 'REGISTER',
      uri: 'sip:r',
      noQop: true,
    });
    expect(noQop).not.toMatch(/qop/);
    expect(parseDigestCredentials(noQop)).toMatchObject({ nonce: 'n', username: 'u' });
  });
});
