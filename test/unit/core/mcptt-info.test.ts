import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import { buildMcpttInfo, MCPTT_INFO_NS, type McpttInfo, parseMcpttInfo } from '#core/mcptt-info.ts';

const NS = MCPTT_INFO_NS;

/** The body of the TS 24.379 §10.1.1.2.1.1 example, as in the project notes. */
const EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<mcpttinfo xmlns="urn:3gpp:ns:mcpttInfo:1.0">
  <mcptt-Params>
    <session-type>prearranged</session-type>
    <mcptt-request-uri type="Normal"><mcpttURI>sip:tg-1@primary.example</mcpttURI></mcptt-request-uri>
    <mcptt-calling-user-id type="Normal"><mcpttURI>sip:alice@primary.example</mcpttURI></mcptt-calling-user-id>
    <mcptt-calling-group-id type="Normal"><mcpttURI>sip:fire-1@primary.example</mcpttURI></mcptt-calling-group-id>
    <mcptt-client-id type="Normal"><mcpttString>client-1</mcpttString></mcptt-client-id>
  </mcptt-Params>
</mcpttinfo>`;

const params = (inner: string): string =>
  `<mcpttinfo xmlns="${NS}"><mcptt-Params>${inner}</mcptt-Params></mcpttinfo>`;

const parseError = (xml: string): DomainError => {
  try {
    parseMcpttInfo(xml);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};
const buildError = (p: McpttInfo): DomainError => {
  try {
    buildMcpttInfo(p);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};

describe('Function: parseMcpttInfo', () => {
  it('parses the prearranged group call example', () => {
    // Arrange: EXAMPLE
    // Act
    const info = parseMcpttInfo(EXAMPLE);
    // Assess
    expect(info).toEqual({
      sessionType: 'prearranged',
      requestUri: 'sip:tg-1@primary.example',
      callingUserId: 'sip:alice@primary.example',
      callingGroupId: 'sip:fire-1@primary.example',
      clientId: 'client-1',
    });
  });

  it('accepts any prefix bound to the namespace', () => {
    // Arrange
    const xml = `<i:mcpttinfo xmlns:i="${NS}"><i:mcptt-Params><i:session-type>chat</i:session-type>
      <i:mcptt-calling-user-id type="Normal"><i:mcpttURI>sip:bob@primary.example</i:mcpttURI></i:mcptt-calling-user-id>
      <i:emergency-ind type="Normal"><i:mcpttBoolean>true</i:mcpttBoolean></i:emergency-ind>
    </i:mcptt-Params></i:mcpttinfo>`;
    // Act / Assess
    expect(parseMcpttInfo(xml)).toEqual({
      sessionType: 'chat',
      callingUserId: 'sip:bob@primary.example',
      emergencyInd: true,
    });
  });

  it('accepts bare values without the wrapper element, and no type attribute', () => {
    // Arrange
    const xml = params(
      '<mcptt-request-uri> sip:tg-1@primary.example </mcptt-request-uri><imminentperil-ind>1</imminentperil-ind><mcptt-client-id>c9</mcptt-client-id>',
    );
    // Act / Assess
    expect(parseMcpttInfo(xml)).toEqual({
      requestUri: 'sip:tg-1@primary.example',
      imminentPerilInd: true,
      clientId: 'c9',
    });
  });

  it('reads the wire value adhoc as ad-hoc, and every other session type', () => {
    // Arrange / Act / Assess
    expect(parseMcpttInfo(params('<session-type>adhoc</session-type>')).sessionType).toBe('ad-hoc');
    expect(parseMcpttInfo(params('<session-type>ad-hoc</session-type>')).sessionType).toBe('ad-hoc');
    expect(parseMcpttInfo(params('<session-type> private </session-type>')).sessionType).toBe('private');
  });

  it.each([
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    [' true ', true],
  ])('reads the xs:boolean %j as %s', (text, value) => {
    // Arrange
    const xml = params(`<emergency-ind type="Normal"><mcpttBoolean>${text}</mcpttBoolean></emergency-ind>`);
    // Act / Assess
    expect(parseMcpttInfo(xml).emergencyInd).toBe(value);
  });

  it('ignores unknown elements of the namespace and elements of other namespaces, in any order', () => {
    // Arrange
    const xml = params(`<mcptt-client-id type="Normal"><mcpttString>c1</mcpttString></mcptt-client-id>
      <mcptt-access-token type="Normal"><mcpttString>tok</mcpttString></mcptt-access-token>
      <x:session-type xmlns:x="urn:example:other">bogus</x:session-type>
      <anyExt><whatever/></anyExt>
      <session-type>prearranged</session-type>`);
    // Act / Assess
    expect(parseMcpttInfo(xml)).toEqual({ clientId: 'c1', sessionType: 'prearranged' });
  });

  it('answers an empty object without <mcptt-Params>', () => {
    // Arrange / Act / Assess
    expect(parseMcpttInfo(`<mcpttinfo xmlns="${NS}"/>`)).toEqual({});
  });

  it('decodes references and CDATA in values', () => {
    // Arrange
    const xml = params(
      '<mcptt-client-id type="Normal"><mcpttString>a&amp;b&#x41;<![CDATA[<c>]]></mcpttString></mcptt-client-id>',
    );
    // Act / Assess
    expect(parseMcpttInfo(xml).clientId).toBe('a&bA<c>');
  });

  it.each<[string, string, string]>([
    ['not XML', 'hello', 'malformed mcptt-info: '],
    ['an empty body', '  ', 'empty body'],
    ['a DOCTYPE', `<!DOCTYPE mcpttinfo [<!ENTITY x "y">]>${params('')}`, 'DOCTYPE'],
    ['a root in no namespace', '<mcpttinfo><mcptt-Params/></mcpttinfo>', 'root element must be <mcpttinfo>'],
    ['a root in another namespace', '<mcpttinfo xmlns="urn:3gpp:ns:mcpttInfo:2.0"/>', 'root element'],
    ['a wrong root name', `<mcptt-info xmlns="${NS}"/>`, 'root element'],
    [
      'two <mcptt-Params>',
      `<mcpttinfo xmlns="${NS}"><mcptt-Params/><mcptt-Params/></mcpttinfo>`,
      'more than one <mcptt-Params>',
    ],
    [
      'a duplicate element',
      params('<session-type>chat</session-type><session-type>chat</session-type>'),
      'more than one <session-type>',
    ],
    [
      'an unknown session type',
      params('<session-type>first-to-answer</session-type>'),
      'unsupported <session-type>',
    ],
    [
      'an encrypted value',
      params('<mcptt-calling-user-id type="Encrypted"><mcpttURI>x:y</mcpttURI></mcptt-calling-user-id>'),
      'encrypted',
    ],
    [
      'an unknown type attribute',
      params('<mcptt-calling-user-id type="Plain"><mcpttURI>sip:a@b</mcpttURI></mcptt-calling-user-id>'),
      'unknown type "Plain"',
    ],
    [
      'the wrong wrapper',
      params('<mcptt-request-uri type="Normal"><mcpttString>sip:a@b</mcpttString></mcptt-request-uri>'),
      'must hold <mcpttURI>',
    ],
    [
      'two wrappers',
      params(
        '<mcptt-request-uri><mcpttURI>sip:a@b</mcpttURI><mcpttURI>sip:c@d</mcpttURI></mcptt-request-uri>',
      ),
      'more than one value element',
    ],
    [
      'a URI without scheme',
      params('<mcptt-request-uri><mcpttURI>alice</mcpttURI></mcptt-request-uri>'),
      'is not a URI',
    ],
    [
      'a URI with a space',
      params('<mcptt-request-uri><mcpttURI>sip:a b@c</mcpttURI></mcptt-request-uri>'),
      'is not a URI',
    ],
    ['an empty URI', params('<mcptt-request-uri><mcpttURI> </mcpttURI></mcptt-request-uri>'), 'is empty'],
    [
      'a bad boolean',
      params('<emergency-ind><mcpttBoolean>yes</mcpttBoolean></emergency-ind>'),
      'is not a boolean',
    ],
    ['an empty client ID', params('<mcptt-client-id><mcpttString/></mcptt-client-id>'), 'is empty'],
    [
      'a control character in the client ID',
      params('<mcptt-client-id><mcpttString>a&#9;b</mcpttString></mcptt-client-id>'),
      'control characters',
    ],
    ['an undeclared prefix', '<x:mcpttinfo/>', 'undeclared namespace prefix'],
    ['an undefined entity', params('<mcptt-client-id>&nbsp;</mcptt-client-id>'), 'entity reference'],
    [
      'a foreign child without wrapper',
      params('<mcptt-request-uri><e:x xmlns:e="urn:e"/></mcptt-request-uri>'),
      'has no <mcpttURI>',
    ],
  ])('refuses %s with a bad_request', (_label, xml, message) => {
    // Arrange / Act
    const e = parseError(xml);
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/^malformed mcptt-info: /);
    expect(e.message).toContain(message);
  });

  it('refuses a body longer than the limit', () => {
    // Arrange
    const xml = params(`<!--${'x'.repeat(70_000)}-->`);
    // Act / Assess
    expect(parseError(xml).message).toContain('longer than');
  });

  it('throws only bad_request DomainErrors on damaged documents (property)', () => {
    const damaged = fc
      .tuple(fc.nat(EXAMPLE.length), fc.nat(20), fc.string({ maxLength: 10 }))
      .map(([at, cut, insert]) => EXAMPLE.slice(0, at) + insert + EXAMPLE.slice(at + cut));
    fc.assert(
      fc.property(damaged, (xml) => {
        try {
          parseMcpttInfo(xml);
        } catch (e) {
          expect(e).toBeInstanceOf(DomainError);
          expect((e as DomainError).code).toBe('bad_request');
        }
      }),
    );
  });
});

describe('Function: buildMcpttInfo', () => {
  it('writes the elements in schema order with their wrappers and type="Normal"', () => {
    // Arrange
    const info: McpttInfo = {
      clientId: 'client-1',
      callingGroupId: 'sip:fire-1@primary.example',
      callingUserId: 'sip:alice@primary.example',
      requestUri: 'sip:tg-1@primary.example',
      sessionType: 'prearranged',
    };
    // Act
    const xml = buildMcpttInfo(info);
    // Assess
    expect(xml).toBe(`${EXAMPLE}\n`);
  });

  it('writes booleans, the called party and the adhoc wire value', () => {
    // Arrange / Act
    const xml = buildMcpttInfo({
      sessionType: 'ad-hoc',
      calledPartyId: 'sip:bob@primary.example',
      emergencyInd: false,
      imminentPerilInd: true,
    });
    // Assess
    expect(xml).toContain('<session-type>adhoc</session-type>');
    expect(xml).toContain(
      '<mcptt-called-party-id type="Normal"><mcpttURI>sip:bob@primary.example</mcpttURI></mcptt-called-party-id>',
    );
    expect(xml).toContain('<emergency-ind type="Normal"><mcpttBoolean>false</mcpttBoolean></emergency-ind>');
    expect(xml.indexOf('<emergency-ind')).toBeLessThan(xml.indexOf('<imminentperil-ind'));
  });

  it('writes an empty <mcptt-Params> for an empty object', () => {
    // Arrange / Act / Assess
    expect(parseMcpttInfo(buildMcpttInfo({}))).toEqual({});
  });

  it('escapes markup in values', () => {
    // Arrange / Act
    const xml = buildMcpttInfo({ clientId: 'a<b>&"c"', requestUri: 'sip:a@b?x=<1>&y' });
    // Assess
    expect(xml).toContain('<mcpttString>a&lt;b&gt;&amp;"c"</mcpttString>');
    expect(parseMcpttInfo(xml)).toEqual({ clientId: 'a<b>&"c"', requestUri: 'sip:a@b?x=<1>&y' });
  });

  it.each<[string, McpttInfo, string]>([
    ['a URI without scheme', { requestUri: 'alice' }, 'is not a URI'],
    ['a URI with whitespace', { callingUserId: 'sip:a b@c' }, 'is not a URI'],
    ['an empty client ID', { clientId: ' ' }, 'is empty'],
    ['a control character in the client ID', { clientId: 'a\nb' }, 'control characters'],
    ['a character XML cannot carry', { callingGroupId: 'sip:a\u0001@b' }, 'XML cannot carry'],
    ['a value too long', { requestUri: `sip:${'a'.repeat(3000)}@b` }, 'longer than'],
    [
      'an unknown session type',
      { sessionType: 'broadcast' as McpttInfo['sessionType'] },
      'unknown MCPTT session type',
    ],
    ['a non-boolean indicator', { emergencyInd: 'yes' as unknown as boolean }, 'must be a boolean'],
  ])('refuses %s', (_label, info, message) => {
    // Arrange / Act
    const e = buildError(info);
    // Assess
    expect(e.code).toBe('bad_request');
    expect(e.message).toContain(message);
  });

  const uriArb = fc
    .tuple(
      fc.constantFrom('sip', 'tel', 'urn', 'sips'),
      fc.string({
        unit: fc.constantFrom(...'abcXYZ019-._~%!$&\'()*+,;=:@/?#<>"'.split('')),
        minLength: 1,
        maxLength: 30,
      }),
    )
    .map(([scheme, rest]) => `${scheme}:${rest}`);
  const clientIdArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    // biome-ignore lint/suspicious/noControlCharactersInRegex: values a client ID cannot hold
    .filter((s) => s.trim() === s && s !== '' && !/[\u0000-\u001F\u007F\uFFFE\uFFFF]/.test(s));
  const infoArb: fc.Arbitrary<McpttInfo> = fc.record(
    {
      sessionType: fc.constantFrom<NonNullable<McpttInfo['sessionType']>>(
        'prearranged',
        'chat',
        'ad-hoc',
        'private',
      ),
      requestUri: uriArb,
      callingUserId: uriArb,
      callingGroupId: uriArb,
      calledPartyId: uriArb,
      clientId: clientIdArb,
      emergencyInd: fc.boolean(),
      imminentPerilInd: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('round-trips through parseMcpttInfo (property)', () => {
    fc.assert(
      fc.property(infoArb, (info) => {
        // Act
        const back = parseMcpttInfo(buildMcpttInfo(info));
        // Assess
        expect(back).toEqual(info);
      }),
    );
  });
});
