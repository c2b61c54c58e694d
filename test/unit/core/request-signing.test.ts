import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import {
  canonicalRequest,
  SIGNATURE_HEADERS,
  signRequest,
  verifySignedRequest,
} from '#core/request-signing.ts';

const NOW = 1_800_000_000_000;
const KEY = randomBytes(32).toString('base64url');
const OTHER_KEY = randomBytes(32).toString('base64url');
const SENDER = 'primary.example';
const TARGET = 'partner.example';
const BODY = JSON.stringify({ tgi: 'sip:tg-1@primary.example', groups: ['sip:police-1@partner.example'] });

const keys = new Map([[`${SENDER} k1`, KEY]]);
const lookupKey = (sender: string, keyId: string) => keys.get(`${sender} ${keyId}`);

const sign = (over: Partial<Parameters<typeof signRequest>[0]> = {}) =>
  signRequest({
    method: 'post',
    path: '/partner/v1/regroups?x=1',
    sender: SENDER,
    target: TARGET,
    keyId: 'k1',
    key: KEY,
    body: BODY,
    now: NOW,
    ...over,
  });

const verify = (
  headers: Record<string, string | undefined>,
  over: Partial<Parameters<typeof verifySignedRequest>[0]> = {},
) =>
  verifySignedRequest({
    method: 'POST',
    path: '/partner/v1/regroups',
    target: TARGET,
    headers,
    body: BODY,
    now: NOW,
    lookupKey,
    ...over,
  });

const verifyError = (...args: Parameters<typeof verify>): DomainError => {
  try {
    verify(...args);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};

describe('Function: canonicalRequest', () => {
  it('joins the documented lines', () => {
    // Arrange
    const parts = {
      method: 'post',
      path: '/a/b?c=d',
      sender: 's.example',
      target: 't.example',
      keyId: 'k',
      timestamp: 123,
      nonce: 'n',
      body: 'hello',
    };
    // Act
    const c = canonicalRequest(parts);
    // Assess
    expect(c).toBe(
      [
        'MCPTT-HMAC-SHA256',
        'POST',
        '/a/b',
        's.example',
        't.example',
        'k',
        '123',
        'n',
        createHash('sha256').update('hello').digest('hex'),
      ].join('\n'),
    );
  });

  it('hashes an absent body as the empty string, and bytes like the equal string', () => {
    // Arrange
    const base = { method: 'GET', path: '/', sender: 's', target: 't', keyId: 'k', timestamp: 1, nonce: 'n' };
    // Act / Assess
    expect(canonicalRequest(base)).toBe(canonicalRequest({ ...base, body: '' }));
    expect(canonicalRequest(base).endsWith(createHash('sha256').update('').digest('hex'))).toBe(true);
    expect(canonicalRequest({ ...base, body: Buffer.from('x') })).toBe(
      canonicalRequest({ ...base, body: 'x' }),
    );
  });
});

describe('Function: signRequest', () => {
  it('returns the five lower-case headers', () => {
    // Arrange / Act
    const headers = sign();
    // Assess
    expect(Object.keys(headers).sort()).toEqual(Object.values(SIGNATURE_HEADERS).sort());
    expect(headers['x-mcptt-system']).toBe(SENDER);
    expect(headers['x-mcptt-key-id']).toBe('k1');
    expect(headers['x-mcptt-timestamp']).toBe(String(NOW));
    expect(Buffer.from(headers['x-mcptt-nonce'] ?? '', 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(headers['x-mcptt-signature']).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('uses a fresh nonce each time unless one is given', () => {
    // Arrange / Act / Assess
    expect(sign()['x-mcptt-nonce']).not.toBe(sign()['x-mcptt-nonce']);
    const nonce = randomBytes(16).toString('base64url');
    expect(sign({ nonce })['x-mcptt-nonce']).toBe(nonce);
  });

  it('normalizes the sender domain', () => {
    // Arrange / Act
    const headers = sign({ sender: 'Primary.EXAMPLE' });
    // Assess
    expect(headers['x-mcptt-system']).toBe(SENDER);
    expect(() => verify(headers)).not.toThrow();
  });

  it('rejects a key that is not base64url', () => {
    // Arrange / Act / Assess
    expect(() => sign({ key: 'not base64!' })).toThrow(/not base64url/);
  });
});

describe('Function: verifySignedRequest', () => {
  it('accepts a correctly signed request and returns sender, key id, nonce and timestamp', () => {
    // Arrange
    const headers = sign();
    // Act
    const result = verify(headers);
    // Assess
    expect(result).toEqual({ sender: SENDER, keyId: 'k1', nonce: headers['x-mcptt-nonce'], timestamp: NOW });
  });

  it('ignores the query string, accepts mixed-case header names and a lower-case method', () => {
    // Arrange
    const upper = Object.fromEntries(Object.entries(sign()).map(([k, v]) => [k.toUpperCase(), v]));
    // Act / Assess
    expect(() => verify(upper, { method: 'post', path: '/partner/v1/regroups?y=2' })).not.toThrow();
  });

  it('accepts bytes equal to the signed string body', () => {
    // Arrange / Act / Assess
    expect(() => verify(sign(), { body: Buffer.from(BODY) })).not.toThrow();
  });

  it.each([
    ['body', { body: `${BODY} ` }],
    ['path', { path: '/partner/v1/regroups/x' }],
    ['method', { method: 'PUT' }],
    ['target', { target: 'other.example' }],
    ['missing body', { body: undefined }],
  ])('refuses a tampered %s with "bad signature"', (_label, over) => {
    // Arrange
    const headers = sign();
    // Act
    const e = verifyError(headers, over);
    // Assess
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toBe('bad signature');
  });

  it.each([
    ['timestamp', (h: Record<string, string>) => ({ ...h, 'x-mcptt-timestamp': String(NOW + 1) })],
    [
      'nonce',
      (h: Record<string, string>) => ({ ...h, 'x-mcptt-nonce': randomBytes(16).toString('base64url') }),
    ],
    ['key id', (h: Record<string, string>) => ({ ...h, 'x-mcptt-key-id': 'k2' })],
    [
      'signature',
      (h: Record<string, string>) => ({ ...h, 'x-mcptt-signature': `${h['x-mcptt-signature']}A` }),
    ],
    [
      'signature (non-canonical base64url)',
      (h: Record<string, string>) => {
        const s = h['x-mcptt-signature'] ?? '';
        const last = s.at(-1) === 'A' ? 'B' : 'A';
        return { ...h, 'x-mcptt-signature': s.slice(0, -1) + last };
      },
    ],
  ])('refuses a tampered %s header', (_label, tamper) => {
    // Arrange
    keys.set(`${SENDER} k2`, KEY);
    const headers = tamper(sign());
    // Act
    const e = verifyError(headers);
    // Assess
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toBe('bad signature');
    keys.delete(`${SENDER} k2`);
  });

  it('refuses a signature made with another key', () => {
    // Arrange
    const headers = sign({ key: OTHER_KEY });
    // Act / Assess
    expect(verifyError(headers).message).toBe('bad signature');
  });

  it.each(Object.values(SIGNATURE_HEADERS))('refuses a request without %s', (name) => {
    // Arrange
    const headers: Record<string, string | undefined> = { ...sign() };
    delete headers[name];
    // Act
    const e = verifyError(headers);
    // Assess
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toBe(`missing signature header ${name}`);
  });

  it.each([
    [
      'unknown sender',
      { 'x-mcptt-system': 'stranger.example' },
      'unknown sender stranger.example or key id k1',
    ],
    ['unknown key id', { 'x-mcptt-key-id': 'k9' }, 'unknown sender primary.example or key id k9'],
    ['malformed sender', { 'x-mcptt-system': 'not a domain' }, 'malformed x-mcptt-system header'],
    ['upper-case sender', { 'x-mcptt-system': 'PRIMARY.example' }, 'not lower-case'],
    ['timestamp not a number', { 'x-mcptt-timestamp': '12abc' }, 'timestamp is not a number'],
    ['negative timestamp', { 'x-mcptt-timestamp': '-5' }, 'timestamp is not a number'],
    ['expired', { 'x-mcptt-timestamp': String(NOW - 300_001) }, 'request expired'],
    ['future', { 'x-mcptt-timestamp': String(NOW + 300_001) }, 'timestamp too far in the future'],
    ['short nonce', { 'x-mcptt-nonce': 'abc' }, 'malformed nonce'],
    ['nonce not base64url', { 'x-mcptt-nonce': 'a+b/c=d+e/f=g+h/i=j+k/l' }, 'malformed nonce'],
  ])('refuses %s', (_label, override, fragment) => {
    // Arrange
    const headers = { ...sign(), ...override };
    // Act
    const e = verifyError(headers);
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('unauthenticated');
    expect(e.message).toContain(fragment);
  });

  it('accepts timestamps exactly at the skew limit and honours maxSkewMs', () => {
    // Arrange
    const old = sign({ now: NOW - 300_000 });
    const ahead = sign({ now: NOW + 300_000 });
    // Act / Assess
    expect(() => verify(old)).not.toThrow();
    expect(() => verify(ahead)).not.toThrow();
    expect(verifyError(old, { maxSkewMs: 1000 }).message).toContain('request expired');
  });

  it('fails on any single-byte change of the body (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, pos, delta) => {
          // Arrange
          const body = Buffer.from(bytes);
          const headers = sign({ body });
          const changed = Buffer.from(body);
          const i = pos % changed.length;
          changed[i] = ((changed[i] ?? 0) + delta) % 256;
          // Act / Assess
          expect(() => verify(headers, { body })).not.toThrow();
          expect(verifyError(headers, { body: changed }).message).toBe('bad signature');
        },
      ),
    );
  });

  it('round-trips for arbitrary methods, paths and bodies (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'patch'),
        fc.webPath(),
        fc.string(),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (method, path, body, now) => {
          // Arrange
          const headers = sign({ method, path, body, now });
          // Act
          const result = verify(headers, { method, path, body, now });
          // Assess
          expect(result.timestamp).toBe(now);
        },
      ),
    );
  });
});
