import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import { describeXmlElement, isXmlText, parseXmlTree, xmlChildren } from '#core/xml-tree.ts';

const OPTS = { what: 'test document', maxLength: 10_000 };

const parseError = (xml: string): DomainError => {
  try {
    parseXmlTree(xml, OPTS);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};

describe('Function: parseXmlTree', () => {
  it('resolves default and prefixed namespaces, redeclarations and undeclarations', () => {
    // Arrange
    const xml = `<?xml version="1.0"?><!-- c --><r xmlns="urn:a" xmlns:b="urn:b">
      <b:x k="1"/><y xmlns="urn:c"><z/></y><w xmlns=""/></r>`;
    // Act
    const root = parseXmlTree(xml, OPTS);
    // Assess
    expect(root).toMatchObject({ ns: 'urn:a', local: 'r' });
    expect(root.children.map((c) => [c.ns, c.local])).toEqual([
      ['urn:b', 'x'],
      ['urn:c', 'y'],
      [undefined, 'w'],
    ]);
    expect(root.children[1]?.children[0]?.ns).toBe('urn:c');
    expect(xmlChildren(root, 'urn:b', 'x')[0]?.attrs.get('k')).toBe('1');
    expect(describeXmlElement(root)).toBe('<r> in namespace "urn:a"');
  });

  it('decodes predefined entities, character references and CDATA, and normalizes attribute whitespace', () => {
    // Arrange
    const xml = '<r a="x&#9;y\tz &amp; &lt;">&quot;&#x263A;<![CDATA[&amp;]]></r>';
    // Act
    const root = parseXmlTree(xml, OPTS);
    // Assess
    expect(root.attrs.get('a')).toBe('x\ty z & <');
    expect(root.text).toBe('"☺&amp;');
  });

  it.each<[string, string, string]>([
    ['a DOCTYPE', '<!DOCTYPE r><r/>', 'DOCTYPE'],
    ['an ENTITY declaration', '<!ENTITY x "y"><r/>', 'DOCTYPE'],
    ['an undefined entity', '<r>&x;</r>', 'entity reference'],
    ['a character reference to a non-character', '<r>&#0;</r>', 'entity reference'],
    ['an undeclared prefix', '<p:r/>', 'undeclared namespace prefix'],
    ['an undeclared attribute prefix', '<r p:a="1"/>', 'undeclared namespace prefix'],
    ['two roots', '<r/><s/>', 'more than one root element'],
    ['text after the root', '<r/>text', 'after the root'],
    ['a control character', '<r>\u0001</r>', 'characters not allowed'],
    ['an empty body', '', 'empty body'],
    ['a prefix bound to nothing', '<r xmlns:p=""/>', 'bound to an empty name'],
    ['nesting too deep', `${'<a>'.repeat(200)}${'</a>'.repeat(200)}`, 'malformed'],
  ])('refuses %s', (_label, xml, message) => {
    // Arrange / Act
    const e = parseError(xml);
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/^malformed test document: /);
    expect(e.message).toContain(message);
  });

  it('refuses a body longer than maxLength', () => {
    // Arrange / Act / Assess
    expect(parseError(`<r>${'x'.repeat(10_001)}</r>`).message).toContain('longer than 10000');
  });

  it('refuses a non-string body', () => {
    // Arrange / Act / Assess
    expect(parseError(42 as unknown as string).message).toContain('not a string');
  });
});

describe('Function: isXmlText', () => {
  it('accepts tab, line feed, carriage return and refuses other control characters', () => {
    // Arrange / Act / Assess
    expect(isXmlText('a\tb\nc\rd ☺')).toBe(true);
    expect(isXmlText('a\u0000')).toBe(false);
    expect(isXmlText('\uFFFE')).toBe(false);
  });
});
