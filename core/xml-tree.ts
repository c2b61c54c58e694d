/**
 * A small namespace-resolved XML element tree on top of fast-xml-parser, for the XML bodies the
 * core reads: the MCPTT info body (TS 24.379 Annex F.1) and the call setup result
 * (core/call-setup-result.ts). Used by core/affiliation-pidf.ts and the other XML bodies:
 *
 * - Namespaces in XML 1.0: prefixes are resolved from the `xmlns` declarations in scope, so any
 *   prefix (or a default namespace) bound to the expected namespace works;
 * - DOCTYPE and entity declarations are refused (no entity expansion, no external fetches);
 *   only the five predefined entities and character references are decoded (XML 1.0 §4.1, §4.6);
 * - characters outside the XML 1.0 §2.2 Char production are refused;
 * - exactly one root element; nesting is bounded by fast-xml-parser's `maxNestedTags` (100).
 *
 * Every failure is a DomainError `bad_request` whose message starts with `malformed <what>: `.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { badRequest, type DomainError } from './errors.ts';

/** One element with its namespace resolved. */
export interface XmlElement {
  /** Namespace name, `undefined` when the element is in no namespace. */
  ns: string | undefined;
  /** Local name (without prefix). */
  local: string;
  /** Unprefixed attributes (no namespace), values normalized and decoded. */
  attrs: Map<string, string>;
  /** Child elements in document order. */
  children: XmlElement[];
  /** Concatenated character data of this element (text decoded, CDATA verbatim). */
  text: string;
}

/** Options of {@link parseXmlTree}. */
export interface ParseXmlTreeOptions {
  /** Names the document in error messages, e.g. `mcptt-info`. */
  what: string;
  /** Longest accepted document, in characters. */
  maxLength: number;
}

type OrderedNode = Record<string, unknown>;

const ATTRS_KEY = ':@';
const TEXT_KEY = '#text';
const CDATA_KEY = '#cdata';
const COMMENT_KEY = '#comment';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false, // references are decoded below: only the predefined ones and char refs
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: CDATA_KEY,
  commentPropName: COMMENT_KEY,
});

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML 1.0 §2.2 Char production (minus the surrogate block handled by fromCodePoint). */
const isXmlChar = (cp: number): boolean =>
  cp === 0x9 ||
  cp === 0xa ||
  cp === 0xd ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);

// biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 §2.2 forbids these characters
const NOT_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** True when `s` holds only characters XML 1.0 can carry (§2.2). */
export const isXmlText = (s: string): boolean => !NOT_XML_CHARS.test(s);

class TreeBuilder {
  constructor(private readonly what: string) {}

  malformed(why: string): DomainError {
    return badRequest(`malformed ${this.what}: ${why}`);
  }

  /** Decodes the five predefined entities and character references (XML 1.0 §4.1, §4.6). */
  decodeReferences(raw: string): string {
    let out = '';
    let i = 0;
    while (i < raw.length) {
      const amp = raw.indexOf('&', i);
      if (amp < 0) {
        out += raw.slice(i);
        break;
      }
      out += raw.slice(i, amp);
      const semi = raw.indexOf(';', amp);
      const name = semi < 0 ? '' : raw.slice(amp + 1, semi);
      let decoded: string | undefined;
      if (/^#[0-9]{1,7}$/.test(name) || /^#x[0-9A-Fa-f]{1,6}$/.test(name)) {
        const cp = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
        if (isXmlChar(cp)) decoded = String.fromCodePoint(cp);
      } else {
        decoded = PREDEFINED[name];
      }
      if (decoded === undefined) {
        throw this.malformed(
          `invalid or undefined entity reference ${JSON.stringify(raw.slice(amp, amp + 12))}`,
        );
      }
      out += decoded;
      i = semi + 1;
    }
    return out;
  }

  splitName(qname: string): { prefix: string | undefined; local: string } {
    const parts = qname.split(':');
    if (parts.length === 1) return { prefix: undefined, local: qname };
    if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') {
      return { prefix: parts[0], local: parts[1] as string };
    }
    throw this.malformed(`invalid qualified name ${JSON.stringify(qname)}`);
  }

  /** Converts one ordered node `{ tag: children, ':@': attrs }` to an {@link XmlElement}. */
  toElement(node: OrderedNode, tag: string, scope: ReadonlyMap<string, string>): XmlElement {
    const rawAttrs = (node[ATTRS_KEY] ?? {}) as Record<string, string>;
    const inner = new Map(scope);
    const plain = new Map<string, string>();
    const prefixed: string[] = [];
    for (const [name, rawValue] of Object.entries(rawAttrs)) {
      if (rawValue.includes('<'))
        throw this.malformed(`"<" in the value of attribute ${JSON.stringify(name)}`);
      // XML 1.0 §3.3.3 attribute-value normalization, then reference decoding.
      const value = this.decodeReferences(rawValue.replace(/[\t\n\r]/g, ' '));
      if (name === 'xmlns') {
        inner.set('', value); // '' undeclares the default namespace
      } else if (name.startsWith('xmlns:')) {
        const prefix = name.slice('xmlns:'.length);
        if (prefix === '' || prefix.includes(':'))
          throw this.malformed(`invalid namespace declaration ${name}`);
        if (value === '')
          throw this.malformed(`namespace prefix ${JSON.stringify(prefix)} bound to an empty name`);
        inner.set(prefix, value);
      } else if (name.includes(':')) {
        prefixed.push(name);
      } else {
        plain.set(name, value);
      }
    }
    const resolve = (prefix: string): string => {
      if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
      const ns = inner.get(prefix);
      if (ns === undefined) throw this.malformed(`undeclared namespace prefix ${JSON.stringify(prefix)}`);
      return ns;
    };
    for (const name of prefixed) resolve(this.splitName(name).prefix ?? '');

    const { prefix, local } = this.splitName(tag);
    const defaultNs = inner.get('');
    const ns = prefix === undefined ? (defaultNs === '' ? undefined : defaultNs) : resolve(prefix);

    const children: XmlElement[] = [];
    let text = '';
    const content = node[tag];
    if (Array.isArray(content)) {
      for (const child of content as OrderedNode[]) {
        const key = Object.keys(child).find((k) => k !== ATTRS_KEY);
        if (key === undefined || key === COMMENT_KEY) continue;
        if (key === TEXT_KEY) {
          text += this.decodeReferences(String(child[TEXT_KEY]));
        } else if (key === CDATA_KEY) {
          const parts = child[CDATA_KEY] as OrderedNode[];
          for (const p of parts) text += String(p[TEXT_KEY] ?? '');
        } else {
          children.push(this.toElement(child, key, inner));
        }
      }
    }
    return { ns, local, attrs: plain, children, text };
  }
}

/** Cuts trailing whitespace, comments and processing instructions. */
function stripTrailingMisc(s: string): string {
  let t = s.trimEnd();
  for (;;) {
    if (t.endsWith('-->')) {
      const start = t.lastIndexOf('<!--');
      if (start < 0) return t;
      t = t.slice(0, start).trimEnd();
    } else if (t.endsWith('?>')) {
      const start = t.lastIndexOf('<?');
      if (start < 0) return t;
      t = t.slice(0, start).trimEnd();
    } else {
      return t;
    }
  }
}

/**
 * Checks well-formedness and parses `xml` into its root {@link XmlElement}, namespaces resolved.
 * @throws DomainError `bad_request` `malformed <what>: <reason>`: not a string, empty, too long,
 *   DOCTYPE/ENTITY, characters XML cannot carry, not well-formed, text or CDATA outside the root,
 *   no or several roots, undeclared prefixes, undefined entity references.
 */
export function parseXmlTree(xml: string, opts: ParseXmlTreeOptions): XmlElement {
  const b = new TreeBuilder(opts.what);
  if (typeof xml !== 'string') throw b.malformed('body is not a string');
  const body = xml.startsWith('\uFEFF') ? xml.slice(1) : xml;
  if (body.trim() === '') throw b.malformed('empty body');
  if (body.length > opts.maxLength) throw b.malformed(`longer than ${opts.maxLength} characters`);
  if (/<!DOCTYPE/i.test(body) || /<!ENTITY/i.test(body)) {
    throw b.malformed('DOCTYPE and entity declarations are not allowed');
  }
  if (!isXmlText(body)) throw b.malformed('contains characters not allowed in XML');
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    throw b.malformed(`not well-formed XML (line ${valid.err.line}): ${valid.err.msg}`);
  }
  if (!stripTrailingMisc(body).endsWith('>')) throw b.malformed('text after the root element');

  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(body) as OrderedNode[];
  } catch (e) {
    throw b.malformed(`not well-formed XML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const roots: { node: OrderedNode; tag: string }[] = [];
  for (const node of nodes) {
    const key = Object.keys(node).find((k) => k !== ATTRS_KEY);
    if (key === undefined || key === COMMENT_KEY) continue;
    if (key === TEXT_KEY) {
      if (String(node[TEXT_KEY]).trim() !== '') throw b.malformed('text outside the root element');
      continue;
    }
    if (key === CDATA_KEY) throw b.malformed('CDATA outside the root element');
    roots.push({ node, tag: key });
  }
  const [root, ...more] = roots;
  if (root === undefined) throw b.malformed('no root element');
  if (more.length > 0) throw b.malformed('more than one root element');
  return b.toElement(root.node, root.tag, new Map([['', '']]));
}

/** The child elements of `el` named `local` in namespace `ns`. */
export const xmlChildren = (el: XmlElement, ns: string, local: string): XmlElement[] =>
  el.children.filter((c) => c.ns === ns && c.local === local);

/** `<local> in namespace "ns"`, for error messages. */
export const describeXmlElement = (el: XmlElement): string =>
  `<${el.local}> in namespace ${JSON.stringify(el.ns ?? '')}`;
