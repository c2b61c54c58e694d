import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SipParseError } from '../../../../sip/message/grammar.ts';
import {
  escapeUriUser,
  formatSipUri,
  isAbsoluteUri,
  parseSipUri,
  sipUriEquals,
  tryParseSipUri,
  unescapeUri,
  validateUri,
} from '../../../../sip/message/uri.ts';

describe('Function: parseSipUri', () => {
  it('parses every component (RFC 3261 §19.1.1)', () => {
    const u = parseSipUri(
      'sips:alice:secretword@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
    );
    expect(u).toEqual({
      scheme: 'sips',
      user: 'alice',
      password: 'secretword',
      host: 'atlanta.com',
      port: 5061,
      params: new Map([
        ['transport', 'tcp'],
        ['lr', null],
      ]),
      headers: [
        ['subject', 'project%20x'],
        ['priority', 'urgent'],
      ],
    });
  });

  it('accepts IPv4 and IPv6 hosts, case-insensitive scheme', () => {
    expect(parseSipUri('SIP:192.0.2.4').host).toBe('192.0.2.4');
    const v6 = parseSipUri('sip:[2001:db8::10]:5070');
    expect(v6).toMatchObject({ scheme: 'sip', host: '[2001:db8::10]', port: 5070 });
    expect(parseSipUri('sip:[::ffff:192.0.2.1]').host).toBe('[::ffff:192.0.2.1]');
  });

  it('accepts the unusual user and password of RFC 4475 intmeth', () => {
    const u = parseSipUri(
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    );
    expect(u.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(u.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(u.host).toBe('example.com');
  });

  it('accepts a user containing ";" (RFC 4475 semiuri) and escapes (esc01, escnull)', () => {
    expect(parseSipUri('sip:user;par=u%40example.net@example.com')).toMatchObject({
      user: 'user;par=u%40example.net',
      host: 'example.com',
    });
    expect(parseSipUri('sip:null-%00-null@example.com').user).toBe('null-%00-null');
    const c = parseSipUri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31');
    expect([...c.params]).toEqual([
      ['%6c%72', null],
      ['n%61me', 'v%61lue%25%34%31'],
    ]);
  });

  it('parses tel URIs minimally (RFC 3966)', () => {
    expect(parseSipUri('tel:+1-201-555-0123;phone-context=example.com')).toMatchObject({
      scheme: 'tel',
      user: '+1-201-555-0123',
      host: '',
      params: new Map([['phone-context', 'example.com']]),
    });
    expect(parseSipUri('tel:7042;phone-context=example.com').user).toBe('7042');
    expect(() => parseSipUri('tel:+')).toThrow(SipParseError);
    expect(() => parseSipUri('tel:abc xyz')).toThrow(SipParseError);
  });

  it.each([
    ['no host', 'sip:'],
    ['empty user', 'sip:@example.com'],
    ['two "@"', 'sip:a@b@example.com'],
    ['bad escape', 'sip:a%4@example.com'],
    ['space', 'sip:a b@example.com'],
    ['bad port', 'sip:example.com:port'],
    ['port too large', 'sip:example.com:65536'],
    ['underscore host', 'sip:a@under_score.example.com'],
    ['numeric toplabel', 'sip:a@example.123'],
    ['bad IPv6', 'sip:[2001:db8:::1]'],
    ['unclosed IPv6', 'sip:[2001:db8::1'],
    ['empty parameter name', 'sip:example.com;;lr'],
    ['empty parameter value', 'sip:example.com;transport='],
    ['header without "="', 'sip:example.com?subject'],
    ['angle brackets', '<sip:user@example.com>'],
    ['other scheme', 'http://example.com'],
    ['junk after host', 'sip:example.com#frag'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseSipUri(text)).toThrow(SipParseError);
    expect(tryParseSipUri(text)).toBeUndefined();
  });
});

describe('Function: formatSipUri', () => {
  it.each([
    'sip:alice@atlanta.com',
    'sips:alice:pw@atlanta.com:5061;transport=tcp;lr?subject=x&to=y',
    'sip:[2001:db8::1]:5060;maddr=239.255.255.1;ttl=15',
    'sip:%61lice@atlanta.com;user=phone',
    'tel:+1-201-555-0123;phone-context=example.com',
  ])('round-trips %s', (text) => {
    expect(formatSipUri(parseSipUri(text))).toBe(text);
  });

  it('round-trips generated URIs (property)', () => {
    const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
    const user = fc.stringMatching(/^([A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-F]{2}){1,12}$/);
    const param = fc.tuple(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
      fc.option(fc.stringMatching(/^[a-z0-9]{1,6}$/)),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('sip', 'sips'),
        fc.option(user, { nil: undefined }),
        fc.array(label, { minLength: 1, maxLength: 3 }),
        fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        fc.uniqueArray(param, { selector: (p) => p[0], maxLength: 3 }),
        (scheme, u, labels, port, params) => {
          const text = `${scheme}:${u !== undefined ? `${u}@` : ''}${labels.join('.')}${port !== undefined ? `:${port}` : ''}${params.map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('')}`;
          expect(formatSipUri(parseSipUri(text))).toBe(text);
          expect(sipUriEquals(text, text)).toBe(true);
        },
      ),
    );
  });
});

describe('Function: sipUriEquals (RFC 3261 §19.1.4)', () => {
  it.each([
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    [
      'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
    ],
    [
      'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
    ],
  ])('%s == %s', (a, b) => {
    expect(sipUriEquals(a, b)).toBe(true);
    expect(sipUriEquals(b, a)).toBe(true);
  });

  it.each([
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
    ['sip:a@x.com;maddr=1.2.3.4', 'sip:a@x.com'],
    ['sip:a@x.com;user=phone', 'sip:a@x.com'],
    ['sip:a:pw@x.com', 'sip:a@x.com'],
    ['sip:a@x.com;lr', 'sip:a@x.com;lr=on'],
    ['sip:a%40b@x.com', 'sip:a@b@x.com'],
    ['not a uri', 'not a uri'],
  ])('%s != %s', (a, b) => {
    expect(sipUriEquals(a, b)).toBe(false);
    expect(sipUriEquals(b, a)).toBe(false);
  });

  it('compares tel URIs without visual separators', () => {
    expect(sipUriEquals('tel:+1-201-555-0123', 'tel:+12015550123')).toBe(true);
    expect(sipUriEquals('tel:+1-201-555-0123', 'tel:+12015550124')).toBe(false);
  });
});

describe('Function: validateUri / isAbsoluteUri', () => {
  it('accepts other schemes as absoluteURI (RFC 4475 unkscm, novelsc)', () => {
    expect(() => validateUri('nobodyKnowsThisScheme:totallyopaquecontent', 'request-uri')).not.toThrow();
    expect(() => validateUri('soap.beep://192.0.2.103:3002', 'request-uri')).not.toThrow();
    expect(isAbsoluteUri('urn:service:sos')).toBe(true);
    expect(isAbsoluteUri('name:John_Smith')).toBe(true);
  });

  it('rejects headers in a SIP Request-URI (§19.1.1; RFC 4475 escruri) but not in an addr-spec', () => {
    expect(() => validateUri('sip:user@example.com?Route=%3Csip:example.com%3E', 'request-uri')).toThrow(
      SipParseError,
    );
    expect(() => validateUri('sip:user@example.com?Route=%3Csip:example.com%3E', 'addr-spec')).not.toThrow();
  });

  it('rejects malformed absolute URIs', () => {
    for (const bad of ['', 'nocolon', '1abc:x', 'a:', 'a:b c', 'a:%zz', 'a:<b>'])
      expect(isAbsoluteUri(bad)).toBe(false);
  });
});

describe('Function: escapeUriUser / unescapeUri', () => {
  it('escapes what the user rule does not allow and unescapes back', () => {
    expect(escapeUriUser('I have spaces@x')).toBe('I%20have%20spaces%40x');
    expect(escapeUriUser('+1;phone-context=x')).toBe('+1;phone-context=x');
    expect(unescapeUri('I%20have%20spaces')).toBe('I have spaces');
    expect(unescapeUri('%ff')).toBe('%ff');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(unescapeUri(escapeUriUser(s))).toBe(s);
        expect(() => parseSipUri(`sip:${escapeUriUser(s || 'x')}@example.com`)).not.toThrow();
      }),
    );
  });
});
