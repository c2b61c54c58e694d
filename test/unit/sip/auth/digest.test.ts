import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DigestAuthenticator,
  type DigestCredentials,
  expectedResponse,
  parseDigestCredentials,
} from '../../../../sip/auth/digest.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('Function: expectedResponse', () => {
  it('matches the RFC 2617 §3.5 example', () => {
    const ha1 = md5('Mufasa:testrealm@host.com:Circle Of Life');
    const c: DigestCredentials = {
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      response: '',
      algorithm: 'MD5',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    };
    expect(expectedResponse(ha1, 'GET', c)).toBe('6629fae49393a05397450978507c4ef1');
  });
});

describe('Function: parseDigestCredentials', () => {
  it('parses quoted and token values, case-insensitive names', () => {
    const c = parseDigestCredentials(
      'Digest username="alice", Realm="primary.example", nonce="n1", uri="sip:primary.example", response="ABC", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="x\\"y"',
    );
    expect(c).toMatchObject({
      username: 'alice',
      realm: 'primary.example',
      algorithm: 'SHA-256',
      response: 'abc',
      cnonce: 'x"y',
    });
  });
  it.each([
    ['Basic abc'],
    ['Digest username="a"'],
    ['Digest username="a", username="b", realm="r", nonce="n", uri="u", response="r"'],
    ['Digest username="a", realm="r", nonce="n", uri="u", response="r", algorithm=SHA-512'],
    ['Digest username="a", realm="r", nonce="n", uri="u", response="r" garbage'],
  ])('refuses %s', (v) => expect(parseDigestCredentials(v)).toBeUndefined());
});

describe('Class: DigestAuthenticator', () => {
  const realm = 'primary.example';
  const password = 'alice-pass';
  const ha1 = { MD5: md5(`alice:${realm}:${password}`), 'SHA-256': sha256(`alice:${realm}:${password}`) };
  const lookup = async (u: string, alg: 'MD5' | 'SHA-256') => (u === 'alice' ? ha1[alg] : undefined);

  const answer = (
    challenge: string,
    alg: 'MD5' | 'SHA-256',
    pw = password,
    nc = '00000001',
  ): DigestCredentials => {
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const c: DigestCredentials = {
      username: 'alice',
      realm,
      nonce,
      uri: 'sip:primary.example',
      response: '',
      algorithm: alg,
      qop: 'auth',
      nc,
      cnonce: 'c0ffee',
    };
    const h = alg === 'MD5' ? md5(`alice:${realm}:${pw}`) : sha256(`alice:${realm}:${pw}`);
    return { ...c, response: expectedResponse(h, 'REGISTER', c) };
  };

  it('offers SHA-256 first, then MD5 (RFC 8760 §2.4)', () => {
    const auth = new DigestAuthenticator({ realm, secret: Buffer.from('s') });
    const [first, second] = auth.challenges();
    expect(first).toMatch(/algorithm=SHA-256/);
    expect(second).toMatch(/algorithm=MD5/);
  });

  it.each(['MD5', 'SHA-256'] as const)(
    'accepts the right password with %s, refuses a wrong one',
    async (alg) => {
      const auth = new DigestAuthenticator({ realm, secret: Buffer.from('s') });
      const [ch] = auth.challenges();
      expect(await auth.verify(answer(ch ?? '', alg), 'REGISTER', lookup)).toEqual({
        ok: true,
        username: 'alice',
      });
      const [ch2] = auth.challenges();
      expect(await auth.verify(answer(ch2 ?? '', alg, 'wrong'), 'REGISTER', lookup)).toEqual({
        ok: false,
        reason: 'response',
      });
    },
  );

  it('refuses a replayed nonce-count, a forged nonce, another realm, an unknown user', async () => {
    const auth = new DigestAuthenticator({ realm, secret: Buffer.from('s') });
    const [ch] = auth.challenges();
    const c = answer(ch ?? '', 'MD5');
    expect((await auth.verify(c, 'REGISTER', lookup)).ok).toBe(true);
    expect(await auth.verify(c, 'REGISTER', lookup)).toEqual({ ok: false, reason: 'replay' });
    expect(await auth.verify({ ...c, nonce: 'abc.def' }, 'REGISTER', lookup)).toEqual({
      ok: false,
      reason: 'nonce',
    });
    expect(await auth.verify({ ...c, realm: 'other' }, 'REGISTER', lookup)).toEqual({
      ok: false,
      reason: 'realm',
    });
    expect(await auth.verify({ ...c, username: 'zed' }, 'REGISTER', lookup)).toEqual({
      ok: false,
      reason: 'unknown-user',
    });
  });

  /** An authenticator of 1-s nonces on a clock the test moves. */
  const onClock = () => {
    const clock = { now: 1_000_000 };
    const auth = new DigestAuthenticator({
      realm,
      secret: Buffer.from('s'),
      nonceTtlMs: 1000,
      now: () => clock.now,
    });
    return { auth, clock };
  };

  it('forgets the nonce-counts of stale nonces, so what it tracks is bounded by the nonce lifetime', async () => {
    const { auth, clock } = onClock();
    for (let i = 0; i < 3; i++) {
      const [ch] = auth.challenges();
      expect((await auth.verify(answer(ch ?? '', 'MD5'), 'REGISTER', lookup)).ok).toBe(true);
    }
    expect(auth.trackedNonces).toBe(3);
    clock.now += 5000;
    const [fresh] = auth.challenges();
    const c = answer(fresh ?? '', 'MD5');
    expect((await auth.verify(c, 'REGISTER', lookup)).ok).toBe(true);
    expect(auth.trackedNonces).toBe(1);
    expect(await auth.verify(c, 'REGISTER', lookup)).toEqual({ ok: false, reason: 'replay' });
  });

  it('a nonce from another secret is refused; an expired one is stale', async () => {
    const { auth, clock } = onClock();
    const other = new DigestAuthenticator({ realm, secret: Buffer.from('t'), now: () => clock.now });
    const [foreign] = other.challenges();
    expect(await auth.verify(answer(foreign ?? '', 'MD5'), 'REGISTER', lookup)).toEqual({
      ok: false,
      reason: 'nonce',
    });
    const [ch] = auth.challenges();
    clock.now += 5000;
    expect(await auth.verify(answer(ch ?? '', 'MD5'), 'REGISTER', lookup)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(auth.challenges(true)[0]).toMatch(/stale=true/);
  });
});
