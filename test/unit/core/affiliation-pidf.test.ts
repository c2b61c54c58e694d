import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeXmlAttribute,
  formatXsDateTime,
  MAX_AFFILIATIONS,
  parseAffiliationPidf,
  parseXsDateTime,
  serializeAffiliationPidf,
} from '#core/affiliation-pidf.ts';
import { DomainError } from '#core/errors.ts';

const NOW = Date.parse('2026-11-27T05:00:00Z');
const EXPIRES = Date.parse('2026-11-27T06:00:00Z');
const PIDF = 'urn:ietf:params:xml:ns:pidf';
const MCPTT = 'urn:3gpp:ns:mcpttPresInfo:1.0';

const EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:mcpttPI10="urn:3gpp:ns:mcpttPresInfo:1.0" entity="sip:alice@primary.example">
  <tuple id="client-1">
    <status>
      <mcpttPI10:affiliation group="sip:fire-1@primary.example" status="affiliated" expires="2026-11-27T06:00:00Z"/>
      <mcpttPI10:affiliation group="sip:police-1@primary.example" expires="2026-11-27T06:00:00Z"/>
    </status>
    <mcpttPI10:p-id>client-1</mcpttPI10:p-id>
  </tuple>
</presence>`;

/** A document with the given status content (PIDF default namespace, prefix `m`). */
const doc = (statusContent: string, extra = '', entity = 'sip:alice@primary.example'): string =>
  `<presence xmlns="${PIDF}" xmlns:m="${MCPTT}" entity="${entity}"><tuple id="t1"><status>${statusContent}</status>${extra}</tuple></presence>`;
const affEl = (attrs: string) => `<m:affiliation ${attrs}/>`;

const parse = (xml: string) => parseAffiliationPidf(xml, { now: NOW });
const parseError = (xml: string): DomainError => {
  try {
    parse(xml);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};

/** The example with a random slice replaced by random text: mostly near-valid documents. */
const mutatedExample = fc
  .tuple(fc.nat(EXAMPLE.length), fc.nat(20), fc.string({ maxLength: 10 }))
  .map(([at, cut, insert]) => EXAMPLE.slice(0, at) + insert + EXAMPLE.slice(at + cut));

describe('Function: parseAffiliationPidf', () => {
  it('parses the TS 24.379 example', () => {
    // Arrange: EXAMPLE
    // Act
    const result = parse(EXAMPLE);
    // Assess
    expect(result).toEqual({
      entity: 'sip:alice@primary.example',
      clientId: 'client-1',
      affiliations: [
        { groupId: 'sip:fire-1@primary.example', expiresAt: EXPIRES },
        { groupId: 'sip:police-1@primary.example', expiresAt: EXPIRES },
      ],
    });
  });

  it('accepts any prefix bound to the MCPTT namespace and a prefixed PIDF root', () => {
    // Arrange
    const xml = `<p:presence xmlns:p="${PIDF}" xmlns:zz="${MCPTT}" entity="SIP:alice@PRIMARY.example">
      <p:tuple id="c9"><p:status><zz:affiliation group="fire-1@primary.example" expires="2026-11-27T06:00:00Z"/></p:status></p:tuple>
    </p:presence>`;
    // Act
    const result = parse(xml);
    // Assess
    expect(result).toEqual({
      entity: 'sip:alice@primary.example',
      clientId: 'c9',
      affiliations: [{ groupId: 'sip:fire-1@primary.example', expiresAt: EXPIRES }],
    });
  });

  it('accepts the MCPTT namespace as a default namespace redeclared on the element', () => {
    // Arrange
    const xml = doc(
      `<affiliation xmlns="${MCPTT}" group="sip:g@primary.example"/>`,
      `<p-id xmlns="${MCPTT}">cid</p-id>`,
    );
    // Act
    const result = parse(xml);
    // Assess
    expect(result.clientId).toBe('cid');
    expect(result.affiliations).toEqual([{ groupId: 'sip:g@primary.example', expiresAt: NOW + 3_600_000 }]);
  });

  it('ignores elements of other namespaces and unprefixed affiliation elements in the PIDF namespace', () => {
    // Arrange
    const xml = doc(
      [
        affEl('group="sip:a@primary.example"'),
        '<affiliation group="sip:pidf-ns@primary.example"/>',
        `<o:affiliation xmlns:o="urn:other" group="sip:other@primary.example"/>`,
        `<m:affiliation xmlns:m="urn:other" group="sip:rebound@primary.example"/>`,
        '<basic>open</basic>',
      ].join(''),
      `<o:p-id xmlns:o="urn:other">not-this</o:p-id>`,
    );
    // Act
    const result = parse(xml);
    // Assess
    expect(result.affiliations.map((a) => a.groupId)).toEqual(['sip:a@primary.example']);
    expect(result.clientId).toBe('t1');
  });

  it('takes p-id from under presence when the tuple has none', () => {
    // Arrange
    const xml = `<presence xmlns="${PIDF}" xmlns:m="${MCPTT}" entity="sip:alice@primary.example"><tuple id="t1"><status/></tuple><m:p-id> client-7 </m:p-id></presence>`;
    // Act
    const result = parse(xml);
    // Assess
    expect(result).toEqual({ entity: 'sip:alice@primary.example', clientId: 'client-7', affiliations: [] });
  });

  it('decodes entity and character references', () => {
    // Arrange
    const xml = doc(affEl('group="sip:a&amp;b@primary.example"'), '<m:p-id>c&lt;&#x41;&#66;</m:p-id>');
    // Act
    const result = parse(xml);
    // Assess
    expect(result.clientId).toBe('c<AB');
    expect(result.affiliations[0]?.groupId).toBe('sip:a&b@primary.example');
  });

  it.each([
    ['status="deaffiliating"', NOW],
    ['status="deaffiliated" expires="2026-11-27T06:00:00Z"', NOW],
    ['status="affiliating" expires="2026-11-27T06:00:00Z"', EXPIRES],
    ['expires="2026-11-27T04:59:59Z"', NOW],
    ['expires="2026-11-27T05:00:00Z"', NOW],
    ['expires="2026-11-28T06:00:00Z"', NOW + 86_400_000],
    ['expires="2026-11-27T07:00:00+01:00"', EXPIRES],
    ['expires="2026-11-27T06:00:00.250Z"', EXPIRES + 250],
    ['expires="2026-11-27T06:00:00"', EXPIRES],
    ['', NOW + 3_600_000],
  ])('affiliation with %s expires at the expected instant', (attrs, expected) => {
    // Arrange
    const xml = doc(affEl(`group="sip:g@primary.example" ${attrs}`));
    // Act
    const result = parse(xml);
    // Assess
    expect(result.affiliations).toEqual([{ groupId: 'sip:g@primary.example', expiresAt: expected }]);
  });

  it('applies defaultExpiresMs and maxExpiresMs options', () => {
    // Arrange
    const xml = doc(
      affEl('group="sip:a@primary.example"') +
        affEl('group="sip:b@primary.example" expires="2027-01-01T00:00:00Z"'),
    );
    // Act
    const result = parseAffiliationPidf(xml, { now: NOW, defaultExpiresMs: 60_000, maxExpiresMs: 120_000 });
    // Assess
    expect(result.affiliations.map((a) => a.expiresAt)).toEqual([NOW + 60_000, NOW + 120_000]);
  });

  it('lets the last of duplicate groups win', () => {
    // Arrange
    const xml = doc(
      affEl('group="sip:g@primary.example" expires="2026-11-27T06:00:00Z"') +
        affEl('group="sip:other@primary.example"') +
        affEl('group="sip:G@primary.example;x=1"') +
        affEl('group="sip:g@PRIMARY.example" status="deaffiliated"'),
    );
    // Act
    const result = parse(xml);
    // Assess
    expect(result.affiliations).toEqual([
      { groupId: 'sip:other@primary.example', expiresAt: NOW + 3_600_000 },
      { groupId: 'sip:G@primary.example', expiresAt: NOW + 3_600_000 },
      { groupId: 'sip:g@primary.example', expiresAt: NOW },
    ]);
  });

  it(`accepts ${MAX_AFFILIATIONS} affiliations and refuses one more`, () => {
    // Arrange
    const many = (n: number) =>
      doc(Array.from({ length: n }, (_, i) => affEl(`group="sip:g${i}@primary.example"`)).join(''));
    // Act / Assess
    expect(parse(many(MAX_AFFILIATIONS)).affiliations).toHaveLength(MAX_AFFILIATIONS);
    expect(parseError(many(MAX_AFFILIATIONS + 1)).message).toContain('at most 1000');
  });

  it.each([
    ['not XML', 'hello', 'not well-formed'],
    ['empty', '  ', 'empty body'],
    [
      'unclosed tag',
      '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b.example"><tuple>',
      'not well-formed',
    ],
    ['mismatched tag', `<presence xmlns="${PIDF}"><tuple></status></presence>`, 'not well-formed'],
    ['DOCTYPE', `<!DOCTYPE presence><presence xmlns="${PIDF}"/>`, 'DOCTYPE'],
    [
      'entity expansion',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><presence xmlns="${PIDF}" entity="&lol2;"/>`,
      'DOCTYPE',
    ],
    ['undefined entity', doc('', '<m:p-id>&nbsp;</m:p-id>'), 'undefined entity reference'],
    [
      'bare ampersand in attribute',
      doc(affEl('group="sip:a&b@primary.example"')),
      'undefined entity reference',
    ],
    ['"<" in attribute', doc(affEl('group="sip:a<b@primary.example"')), '"<" in the value'],
    ['text after root', `${doc('')}junk`, 'not well-formed'],
    ['text after an empty root', `<presence xmlns="${PIDF}"/>junk<!-- c -->`, 'text after the root'],
    ['two roots', `${doc('')}${doc('')}`, 'not well-formed'],
    ['two empty roots', `<presence xmlns="${PIDF}"/><presence xmlns="${PIDF}"/>`, 'more than one root'],
    ['control character', doc('', '<m:p-id>a\u0001b</m:p-id>'), 'characters not allowed'],
    [
      'wrong root name',
      `<pres xmlns="${PIDF}" entity="sip:a@b.example"/>`,
      'root element must be <presence>',
    ],
    ['root without namespace', '<presence entity="sip:a@b.example"/>', 'root element must be <presence>'],
    [
      'root in MCPTT namespace',
      `<presence xmlns="${MCPTT}" entity="sip:a@b.example"/>`,
      'root element must be <presence>',
    ],
    ['undeclared prefix', `<x:presence entity="sip:a@b.example"/>`, 'undeclared namespace prefix "x"'],
    [
      'undeclared attribute prefix',
      `<presence xmlns="${PIDF}" q:entity="sip:a@b.example"/>`,
      'undeclared namespace prefix "q"',
    ],
    [
      'empty prefix binding',
      `<presence xmlns="${PIDF}" xmlns:m="" entity="sip:a@b.example"/>`,
      'bound to an empty name',
    ],
    [
      'missing entity',
      `<presence xmlns="${PIDF}"><tuple id="t"><status/></tuple></presence>`,
      'no entity attribute',
    ],
    ['entity not sip', doc('', '', 'tel:+15551234'), 'invalid entity'],
    ['entity pres: URI', doc('', '', 'pres:alice@primary.example'), 'unsupported scheme'],
    ['no tuple', `<presence xmlns="${PIDF}" entity="sip:a@b.example"/>`, 'no <tuple>'],
    [
      'two tuples',
      `<presence xmlns="${PIDF}" entity="sip:a@b.example"><tuple id="a"><status/></tuple><tuple id="b"><status/></tuple></presence>`,
      'more than one <tuple>',
    ],
    [
      'tuple without status',
      `<presence xmlns="${PIDF}" entity="sip:a@b.example"><tuple id="a"/></presence>`,
      'no <status>',
    ],
    [
      'no client id',
      `<presence xmlns="${PIDF}" entity="sip:a@b.example"><tuple><status/></tuple></presence>`,
      'no MCPTT client ID',
    ],
    ['empty p-id', doc('', '<m:p-id>  </m:p-id>'), 'empty MCPTT client ID'],
    [
      'group missing',
      doc(affEl('expires="2026-11-27T06:00:00Z"')),
      '<affiliation> #1 has no group attribute',
    ],
    ['group not sip', doc(affEl('group="tel:+1555"')), 'invalid group in <affiliation> #1'],
    ['group with port', doc(affEl('group="sip:g@primary.example:5060"')), 'port is not allowed'],
    [
      'bad date',
      doc(affEl('group="sip:g@primary.example" expires="tomorrow"')),
      'invalid expires "tomorrow"',
    ],
    [
      'impossible date',
      doc(affEl('group="sip:g@primary.example" expires="2026-02-30T00:00:00Z"')),
      'invalid expires',
    ],
    ['bad status', doc(affEl('group="sip:g@primary.example" status="maybe"')), 'unknown status "maybe"'],
    [
      'deep nesting',
      `<presence xmlns="${PIDF}">${'<x>'.repeat(200)}${'</x>'.repeat(200)}</presence>`,
      'not well-formed',
    ],
    [
      'prototype pollution name',
      `<presence xmlns="${PIDF}" __proto__="x" entity="sip:a@b.example"/>`,
      'not well-formed',
    ],
  ])('rejects %s', (_label, xml, fragment) => {
    // Arrange: table row
    // Act
    const e = parseError(xml);
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/^malformed affiliation PIDF: /);
    expect(e.message).toContain(fragment);
  });

  it('never throws anything but a bad_request DomainError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => doc(s)),
          mutatedExample,
        ),
        (xml) => {
          // Arrange / Act
          let caught: unknown;
          try {
            parseAffiliationPidf(xml, { now: NOW });
          } catch (e) {
            caught = e;
          }
          // Assess
          if (caught !== undefined) {
            expect(caught).toBeInstanceOf(DomainError);
            expect((caught as DomainError).code).toBe('bad_request');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Function: serializeAffiliationPidf', () => {
  it('produces the TS 24.379 example shape', () => {
    // Arrange
    const input = {
      entity: 'sip:alice@primary.example',
      clientId: 'client-1',
      affiliations: [
        { groupId: 'sip:fire-1@primary.example', expiresAt: EXPIRES },
        {
          groupId: 'sip:police-1@primary.example',
          expiresAt: EXPIRES + 999,
          status: 'deaffiliated' as const,
        },
      ],
    };
    // Act
    const xml = serializeAffiliationPidf(input);
    // Assess
    expect(xml).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:mcpttPI10="urn:3gpp:ns:mcpttPresInfo:1.0" entity="sip:alice@primary.example">
  <tuple id="client-1">
    <status>
      <mcpttPI10:affiliation group="sip:fire-1@primary.example" status="affiliated" expires="2026-11-27T06:00:00Z"/>
      <mcpttPI10:affiliation group="sip:police-1@primary.example" status="deaffiliated" expires="2026-11-27T06:00:00Z"/>
    </status>
    <mcpttPI10:p-id>client-1</mcpttPI10:p-id>
  </tuple>
</presence>
`);
  });

  it('escapes attribute values and text', () => {
    // Arrange
    const input = { entity: 'sip:a"<&>\'@x.example', clientId: '1 <&> "x"', affiliations: [] };
    // Act
    const xml = serializeAffiliationPidf(input);
    // Assess
    expect(xml).toContain('entity="sip:a&quot;&lt;&amp;&gt;&apos;@x.example"');
    expect(xml).toContain('<tuple id="mcptt-client">');
    expect(xml).toContain('<mcpttPI10:p-id>1 &lt;&amp;&gt; "x"</mcpttPI10:p-id>');
    expect(xml).toContain('<status/>');
  });

  it('refuses characters XML cannot carry', () => {
    // Arrange / Act / Assess
    expect(() =>
      serializeAffiliationPidf({ entity: 'sip:a@x', clientId: 'a\u0000', affiliations: [] }),
    ).toThrow(DomainError);
  });

  it('round-trips through parseAffiliationPidf at second resolution (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?$/);
    const hostArb = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
    const userArb = fc.stringMatching(/^[A-Za-z0-9\-_.!~*'()&=+$,]{1,12}$/);
    const uriArb = fc.tuple(userArb, hostArb).map(([u, h]) => `sip:${u}@${h}`);
    const clientIdArb = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .map((s) => s.trim())
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the generator avoids control characters
      .filter((s) => s !== '' && !/[\u0000-\u001F\u007F\uFFFE\uFFFF]/.test(s));
    fc.assert(
      fc.property(
        uriArb,
        clientIdArb,
        fc.uniqueArray(fc.tuple(uriArb, fc.integer({ min: 1, max: 86_400_000 })), {
          selector: ([g]) => g,
          maxLength: 20,
        }),
        (entity, clientId, groups) => {
          // Arrange
          const affiliations = groups.map(([groupId, delta]) => ({ groupId, expiresAt: NOW + delta }));
          // Act
          const parsed = parseAffiliationPidf(serializeAffiliationPidf({ entity, clientId, affiliations }), {
            now: NOW,
          });
          // Assess
          expect(parsed.entity).toBe(entity);
          expect(parsed.clientId).toBe(clientId);
          expect(parsed.affiliations).toEqual(
            affiliations.map((a) => ({
              groupId: a.groupId,
              expiresAt: Math.max(NOW, Math.floor(a.expiresAt / 1000) * 1000),
            })),
          );
        },
      ),
    );
  });
});

describe('Function: parseXsDateTime', () => {
  it.each([
    ['2026-11-27T06:00:00Z', EXPIRES],
    ['2026-11-27T06:00:00', EXPIRES],
    ['2026-11-27T01:30:00-04:30', EXPIRES],
    ['2024-02-29T00:00:00Z', Date.parse('2024-02-29T00:00:00Z')],
    ['0099-01-01T00:00:00Z', Date.parse('0099-01-01T00:00:00Z')],
  ])('parses %s', (value, expected) => {
    // Arrange / Act / Assess
    expect(parseXsDateTime(value)).toBe(expected);
  });

  it.each([
    ['2026-13-01T00:00:00Z'],
    ['2025-02-29T00:00:00Z'],
    ['2026-11-27T24:00:00Z'],
    ['2026-11-27T06:60:00Z'],
    ['2026-11-27 06:00:00Z'],
    ['2026-11-27T06:00:00+15:00'],
    ['2026-11-27'],
    [''],
  ])('refuses %j', (value) => {
    // Arrange / Act / Assess
    expect(parseXsDateTime(value)).toBeUndefined();
  });

  it('inverts formatXsDateTime at second resolution (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_000 }), (t) => {
        // Arrange / Act / Assess
        expect(parseXsDateTime(formatXsDateTime(t))).toBe(Math.floor(t / 1000) * 1000);
      }),
    );
  });
});

describe('Function: escapeXmlAttribute', () => {
  it('escapes markup, quotes and whitespace that attribute normalization would change', () => {
    // Arrange / Act / Assess
    expect(escapeXmlAttribute(`a&<>"'\t\n\r`)).toBe('a&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13;');
  });
});
