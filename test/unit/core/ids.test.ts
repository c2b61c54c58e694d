import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import { domainOf, normalizeDomain, normalizeSipUri, tryNormalizeSipUri, userPartOf } from '#core/ids.ts';

const expectBadRequest = (f: () => unknown, fragment: string): void => {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DomainError);
  expect((caught as DomainError).code).toBe('bad_request');
  expect((caught as DomainError).message).toContain(fragment);
};

// Arbitraries shared by the property tests.
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const user = fc.stringMatching(/^[A-Za-z0-9\-_.!~*'()&=+$,]{1,20}$/);
const randomCase = (s: string, flips: boolean[]): string =>
  [...s].map((c, i) => (flips[i % Math.max(1, flips.length)] ? c.toUpperCase() : c)).join('');

describe('Function: normalizeSipUri', () => {
  it.each([
    ['sip:alice@primary.example', undefined, 'sip:alice@primary.example'],
    ['alice@primary.example', undefined, 'sip:alice@primary.example'],
    ['alice', 'primary.example', 'sip:alice@primary.example'],
    ['alice', 'Primary.EXAMPLE', 'sip:alice@primary.example'],
    ['  SIP:Alice@Primary.Example  ', undefined, 'sip:Alice@primary.example'],
    ['Sip:alice@primary.example;transport=tcp', undefined, 'sip:alice@primary.example'],
    ['sip:alice@primary.example?subject=hi', undefined, 'sip:alice@primary.example'],
    ['sip:alice@primary.example;user=phone?x=y', undefined, 'sip:alice@primary.example'],
    ['sip:%61lice@primary.example', undefined, 'sip:alice@primary.example'],
    ['sip:al%7eice@primary.example', undefined, 'sip:al~ice@primary.example'],
    ['sip:a%2fb@primary.example', undefined, 'sip:a%2Fb@primary.example'],
    ['sip:a%40b@primary.example', undefined, 'sip:a%40b@primary.example'],
    ['sip:fire-1@10.0.0.1', undefined, 'sip:fire-1@10.0.0.1'],
    ['sip:a+b=c@x.example', undefined, 'sip:a+b=c@x.example'],
    ['sip:alice@other.example', 'primary.example', 'sip:alice@other.example'],
  ])('normalizes %j (default domain %j) to %j', (input, defaultDomain, expected) => {
    // Arrange: table row
    // Act
    const actual = normalizeSipUri(input, defaultDomain);
    // Assess
    expect(actual).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['alice', 'missing "@host"'],
    ['sips:alice@primary.example', 'unsupported scheme "sips:"'],
    ['tel:+15551234', 'unsupported scheme "tel:"'],
    ['mailto:alice@primary.example', 'unsupported scheme "mailto:"'],
    ['sip:@primary.example', 'empty user part'],
    ['@primary.example', 'empty user part'],
    ['sip:primary.example', 'empty user part'],
    ['sip:alice@', 'empty host'],
    ['sip:alice@;transport=tcp', 'empty host'],
    ['sip:al ice@primary.example', 'whitespace'],
    ['sip:alice@primary.example:5060', 'port is not allowed'],
    ['sip:alice@prim_ary.example', 'invalid host'],
    ['sip:alice@-primary.example', 'invalid host'],
    ['sip:alice@primary..example', 'invalid host'],
    ['sip:alice@primary.example.', 'invalid host'],
    ['sip:alice@[2001:db8::1]', 'IP literal'],
    ['sip:alice:secret@primary.example', 'invalid character ":" in user part'],
    ['sip:al"ice@primary.example', 'invalid character'],
    ['sip:alicé@primary.example', 'invalid character'],
    ['sip:al%4@primary.example', 'malformed percent-escape'],
    ['sip:al%zz@primary.example', 'malformed percent-escape'],
    ['sip:a@b@primary.example', 'more than one "@"'],
    [`sip:${'a'.repeat(250)}@x.example`, 'longer than 256'],
  ])('rejects %j with a message containing %j', (input, fragment) => {
    // Arrange: table row
    // Act / Assess
    expectBadRequest(() => normalizeSipUri(input), fragment);
  });

  it('quotes the input in the error message', () => {
    // Arrange
    const input = 'tel:+15551234';
    // Act / Assess
    expectBadRequest(() => normalizeSipUri(input), JSON.stringify(input));
  });

  it('rejects a result longer than 256 characters built with the default domain', () => {
    // Arrange
    const longUser = 'a'.repeat(240);
    // Act / Assess
    expectBadRequest(() => normalizeSipUri(longUser, 'primary.example'), 'longer than 256');
  });

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(user, host, fc.boolean(), (u, h, withScheme) => {
        // Arrange
        const once = normalizeSipUri(`${withScheme ? 'sip:' : ''}${u}@${h}`);
        // Act
        const twice = normalizeSipUri(once);
        // Assess
        expect(twice).toBe(once);
      }),
    );
  });

  it('normalizes equivalent inputs (host case, scheme case, parameters, headers) equally (property)', () => {
    fc.assert(
      fc.property(
        user,
        host,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.stringMatching(/^(;[a-z]{1,5}=[a-z0-9]{1,5}){0,3}$/),
        fc.stringMatching(/^(\?[a-z]{1,5}=[a-z0-9]{1,5})?$/),
        (u, h, flips, params, headers) => {
          // Arrange
          const plain = `sip:${u}@${h}`;
          const variant = `  ${randomCase('sip', flips)}:${u}@${randomCase(h, flips)}${params}${headers} `;
          // Act
          const a = normalizeSipUri(plain);
          const b = normalizeSipUri(variant);
          // Assess
          expect(b).toBe(a);
        },
      ),
    );
  });

  it('treats an escaped unreserved character like the character itself (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9\-_.~]{1,12}$/), host, (u, h) => {
        // Arrange
        const escaped = [...u].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
        // Act
        const fromEscaped = normalizeSipUri(`sip:${escaped}@${h}`);
        // Assess
        expect(fromEscaped).toBe(normalizeSipUri(`sip:${u}@${h}`));
      }),
    );
  });
});

describe('Function: tryNormalizeSipUri', () => {
  it('answers undefined instead of throwing', () => {
    // Arrange
    const bad = 'tel:+1555';
    // Act
    const result = tryNormalizeSipUri(bad);
    // Assess
    expect(result).toBeUndefined();
  });

  it('answers the normal form for valid input', () => {
    // Arrange / Act
    const result = tryNormalizeSipUri('bob', 'Partner.Example');
    // Assess
    expect(result).toBe('sip:bob@partner.example');
  });
});

describe('Function: domainOf', () => {
  it('answers the lower-case host', () => {
    // Arrange / Act / Assess
    expect(domainOf('sip:alice@primary.example')).toBe('primary.example');
    expect(domainOf('sip:Alice@PRIMARY.example;x=y')).toBe('primary.example');
  });

  it('throws bad_request for a non-identity', () => {
    // Arrange / Act / Assess
    expectBadRequest(() => domainOf('tel:+1555'), 'unsupported scheme');
  });

  it('is lower-case for any normalized identity (property)', () => {
    fc.assert(
      fc.property(user, host, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (u, h, flips) => {
        // Arrange
        const uri = normalizeSipUri(`${u}@${randomCase(h, flips)}`);
        // Act
        const domain = domainOf(uri);
        // Assess
        expect(domain).toBe(domain.toLowerCase());
        expect(domain).toBe(h);
      }),
    );
  });
});

describe('Function: userPartOf', () => {
  it('answers the case-preserved user part', () => {
    // Arrange / Act / Assess
    expect(userPartOf('sip:Alice@primary.example')).toBe('Alice');
    expect(userPartOf('sip:%41lice@primary.example')).toBe('Alice');
  });
});

describe('Function: normalizeDomain', () => {
  it.each([
    ['primary.example', 'primary.example'],
    ['  Primary.EXAMPLE ', 'primary.example'],
    ['localhost', 'localhost'],
    ['a-b.c1.example', 'a-b.c1.example'],
  ])('normalizes %j to %j', (input, expected) => {
    // Arrange: table row
    // Act
    const actual = normalizeDomain(input);
    // Assess
    expect(actual).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['primary example', 'whitespace'],
    ['sip:primary.example', 'invalid host'],
    ['alice@primary.example', 'bare DNS name'],
    ['https://primary.example', 'bare DNS name'],
    ['primary.example:443', 'port is not allowed'],
    ['primary_example', 'invalid host'],
    ['-primary.example', 'invalid host'],
    [`${'a'.repeat(64)}.example`, 'invalid host'],
    [`${'abc.'.repeat(64)}example`, 'longer than 253'],
  ])('rejects %j with a message containing %j', (input, fragment) => {
    // Arrange: table row
    // Act / Assess
    expectBadRequest(() => normalizeDomain(input), fragment);
  });

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(host, (h) => {
        // Arrange
        const once = normalizeDomain(h.toUpperCase());
        // Act / Assess
        expect(normalizeDomain(once)).toBe(once);
        expect(once).toBe(h);
      }),
    );
  });
});
