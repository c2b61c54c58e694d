import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeHa1,
  credentialsFor,
  digestUsername,
  hashPassword,
  verifyPassword,
} from '#core/digest-credentials.ts';
import { DomainError } from '#core/errors.ts';

/** Small scrypt cost for fast tests. */
const FAST = { N: 1024 };

describe('Function: digestUsername', () => {
  it('is the user part of the MCPTT ID', () => {
    // Arrange / Act / Assess
    expect(digestUsername('sip:alice@primary.example')).toBe('alice');
    expect(digestUsername('sip:Alice@PRIMARY.example')).toBe('Alice');
  });
});

describe('Function: computeHa1', () => {
  it('matches the RFC 2617 §3.5 MD5 vector', () => {
    // Arrange / Act
    const ha1 = computeHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'MD5');
    // Assess
    expect(ha1).toBe('939e7578ed9e3c518a452acee763bce9');
  });

  it('computes the SHA-256 HA1 of RFC 8760', () => {
    // Arrange
    const expected = createHash('sha256').update('Mufasa:testrealm@host.com:Circle Of Life').digest('hex');
    // Act
    const ha1 = computeHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'SHA-256');
    // Assess
    expect(ha1).toBe(expected);
    expect(ha1).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes non-ASCII text as UTF-8', () => {
    // Arrange
    const expected = createHash('md5').update(Buffer.from('jörg:realm:pässword', 'utf8')).digest('hex');
    // Act / Assess
    expect(computeHa1('jörg', 'realm', 'pässword', 'MD5')).toBe(expected);
  });

  it('rejects an unknown algorithm', () => {
    // Arrange / Act / Assess
    expect(() => computeHa1('a', 'b', 'c', 'SHA-512' as 'MD5')).toThrow(DomainError);
  });
});

describe('Function: hashPassword', () => {
  it('produces scrypt$N$r$p$salt$hash with base64url parts and a random salt', () => {
    // Arrange / Act
    const a = hashPassword('secret', FAST);
    const b = hashPassword('secret', FAST);
    // Assess
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('uses N = 16384 by default', () => {
    // Arrange / Act
    const stored = hashPassword('secret');
    // Assess
    expect(stored.startsWith('scrypt$16384$8$1$')).toBe(true);
    expect(verifyPassword('secret', stored)).toBe(true);
  });

  it.each([[0], [1000], [3], [2 ** 21]])('rejects N = %d', (N) => {
    // Arrange / Act / Assess
    expect(() => hashPassword('x', { N })).toThrow(/power of two/);
  });
});

describe('Function: verifyPassword', () => {
  const stored = hashPassword('correct horse', FAST);

  it('accepts the right password and refuses a wrong one', () => {
    // Arrange / Act / Assess
    expect(verifyPassword('correct horse', stored)).toBe(true);
    expect(verifyPassword('correct horsE', stored)).toBe(false);
    expect(verifyPassword('', stored)).toBe(false);
  });

  it.each([
    [''],
    ['plain'],
    ['scrypt$1024$8$1$salt'],
    ['bcrypt$1024$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$1000$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$1024$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$1024$8$1$c2FsdHNhbHRzYWx0$aGFzaA'],
    ['scrypt$1024$8$1$c2Fs!HNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$4194304$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$1024$999$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['scrypt$01024$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
  ])('answers false (never throws) for malformed %j', (bad) => {
    // Arrange / Act / Assess
    expect(verifyPassword('x', bad)).toBe(false);
  });

  it('answers false for non-string input', () => {
    // Arrange / Act / Assess
    expect(verifyPassword('x', undefined as unknown as string)).toBe(false);
    expect(verifyPassword(42 as unknown as string, stored)).toBe(false);
  });

  it('verifies exactly the hashed password (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        (pw, other) => {
          // Arrange
          const h = hashPassword(pw, { N: 16 });
          // Act / Assess
          expect(verifyPassword(pw, h)).toBe(true);
          if (other.normalize('NFC') !== pw.normalize('NFC')) expect(verifyPassword(other, h)).toBe(false);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('never throws on arbitrary stored strings (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string({ maxLength: 12 }), { maxLength: 7 }), (pw, parts) => {
        // Arrange
        const stored = parts.join('$');
        // Act / Assess
        expect(() => verifyPassword(pw, stored)).not.toThrow();
        expect(() => verifyPassword(pw, `scrypt$${stored}`)).not.toThrow();
      }),
    );
  });
});

describe('Function: credentialsFor', () => {
  it('derives both HA1 values from the user part and realm, and a verifiable password hash', () => {
    // Arrange
    const password = 'Circle Of Life';
    // Act
    const c = credentialsFor('sip:Mufasa@primary.example', 'primary.example', password);
    // Assess
    expect(c.realm).toBe('primary.example');
    expect(c.ha1Md5).toBe(computeHa1('Mufasa', 'primary.example', password, 'MD5'));
    expect(c.ha1Sha256).toBe(computeHa1('Mufasa', 'primary.example', password, 'SHA-256'));
    expect(verifyPassword(password, c.passwordHash)).toBe(true);
    expect(JSON.stringify(c)).not.toContain(password);
  });

  it('rejects an empty realm and an invalid MCPTT ID', () => {
    // Arrange / Act / Assess
    expect(() => credentialsFor('sip:a@primary.example', ' ', 'x')).toThrow(/realm/);
    expect(() => credentialsFor('tel:+1', 'primary.example', 'x')).toThrow(DomainError);
  });
});
