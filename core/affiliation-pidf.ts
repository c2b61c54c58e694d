/**
 * The affiliation PIDF body (`application/pidf+xml`) of TS 24.379 §9.2 (affiliation by SIP
 * PUBLISH, Event: presence) with the `urn:3gpp:ns:mcpttPresInfo:1.0` extension of TS 24.379
 * Annex F.3, on top of PIDF (RFC 3863, `urn:ietf:params:xml:ns:pidf`).
 *
 * Parsing is namespace-aware (Namespaces in XML 1.0): prefixes are resolved from `xmlns`
 * declarations in scope, so any prefix (or a default namespace) bound to the MCPTT namespace works,
 * and elements of other namespaces are ignored. DOCTYPE and entity declarations are refused.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { badRequest, type DomainError } from './errors.ts';
import { normalizeSipUri } from './ids.ts';
import type { EpochMs, SipUri } from './model.ts';

/** RFC 3863 PIDF namespace; the root `<presence>` must be in it. */
export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
/** TS 24.379 Annex F.3 MCPTT presence-information namespace (`<affiliation>`, `<p-id>`). */
export const MCPTT_PRES_INFO_NS = 'urn:3gpp:ns:mcpttPresInfo:1.0';
/** Most `<affiliation>` elements accepted in one document. */
export const MAX_AFFILIATIONS = 1000;
/** Longest accepted document, in characters. */
export const MAX_PIDF_LENGTH = 1_000_000;
/** Longest accepted MCPTT client ID. */
export const MAX_CLIENT_ID_LENGTH = 256;
/** Default lifetime of an affiliation without `expires` (1 h). */
export const DEFAULT_AFFILIATION_EXPIRES_MS = 3_600_000;
/** Longest accepted lifetime; later `expires` are capped (24 h). */
export const MAX_AFFILIATION_EXPIRES_MS = 86_400_000;

/** Values of the `status` attribute of `<affiliation>` (TS 24.379 Annex F.3). */
export type AffiliationStatus = 'affiliating' | 'affiliated' | 'deaffiliating' | 'deaffiliated';
const STATUSES: ReadonlySet<string> = new Set(['affiliating', 'affiliated', 'deaffiliating', 'deaffiliated']);

/** The content of one client's affiliation PUBLISH. */
export interface AffiliationPidf {
  /** The MCPTT ID (presence `entity`). */
  entity: SipUri;
  /** The MCPTT client ID (`<p-id>`, else the tuple `id`). */
  clientId: string;
  /** The full set of the client's groups; `expiresAt === now` means de-affiliation. */
  affiliations: { groupId: SipUri; expiresAt: EpochMs }[];
}

/** Options of {@link parseAffiliationPidf}. */
export interface ParseAffiliationPidfOptions {
  now: EpochMs;
  /** Lifetime when `expires` is absent; default {@link DEFAULT_AFFILIATION_EXPIRES_MS}. */
  defaultExpiresMs?: number;
  /** Cap on lifetimes; default {@link MAX_AFFILIATION_EXPIRES_MS}. */
  maxExpiresMs?: number;
}

/** Input of {@link serializeAffiliationPidf}. */
export interface AffiliationPidfDocument {
  entity: SipUri;
  clientId: string;
  affiliations: { groupId: SipUri; expiresAt: EpochMs; status?: 'affiliated' | 'deaffiliated' }[];
}

// ---------------------------------------------------------------------------------------------
// Minimal namespace-resolved element tree built from fast-xml-parser's ordered output.

interface Element {
  ns: string | undefined;
  local: string;
  /** Unprefixed attributes (no namespace), values decoded. */
  attrs: Map<string, string>;
  children: Element[];
  /** Concatenated character data (text decoded, CDATA verbatim). */
  text: string;
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

const malformed = (why: string): DomainError => badRequest(`malformed affiliation PIDF: ${why}`);

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML 1.0 §2.2 Char production (minus the surrogate block handled by fromCodePoint). */
const isXmlChar = (cp: number): boolean =>
  cp === 0x9 ||
  cp === 0xa ||
  cp === 0xd ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);

/** Decodes the five predefined entities and character references (XML 1.0 §4.1, §4.6). */
function decodeReferences(raw: string): string {
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
      throw malformed(`invalid or undefined entity reference ${JSON.stringify(raw.slice(amp, amp + 12))}`);
    }
    out += decoded;
    i = semi + 1;
  }
  return out;
}

function splitName(qname: string): { prefix: string | undefined; local: string } {
  const parts = qname.split(':');
  if (parts.length === 1) return { prefix: undefined, local: qname };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') {
    return { prefix: parts[0], local: parts[1] as string };
  }
  throw malformed(`invalid qualified name ${JSON.stringify(qname)}`);
}

/** Converts one ordered node `{ tag: children, ':@': attrs }` to an {@link Element}. */
function toElement(node: OrderedNode, tag: string, scope: ReadonlyMap<string, string>): Element {
  const rawAttrs = (node[ATTRS_KEY] ?? {}) as Record<string, string>;
  const inner = new Map(scope);
  const plain = new Map<string, string>();
  const prefixed: string[] = [];
  for (const [name, rawValue] of Object.entries(rawAttrs)) {
    if (rawValue.includes('<')) throw malformed(`"<" in the value of attribute ${JSON.stringify(name)}`);
    // XML 1.0 §3.3.3 attribute-value normalization, then reference decoding.
    const value = decodeReferences(rawValue.replace(/[\t\n\r]/g, ' '));
    if (name === 'xmlns') {
      inner.set('', value); // '' undeclares the default namespace
    } else if (name.startsWith('xmlns:')) {
      const prefix = name.slice('xmlns:'.length);
      if (prefix === '' || prefix.includes(':')) throw malformed(`invalid namespace declaration ${name}`);
      if (value === '') throw malformed(`namespace prefix ${JSON.stringify(prefix)} bound to an empty name`);
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
    if (ns === undefined) throw malformed(`undeclared namespace prefix ${JSON.stringify(prefix)}`);
    return ns;
  };
  for (const name of prefixed) resolve(splitName(name).prefix ?? '');

  const { prefix, local } = splitName(tag);
  const defaultNs = inner.get('');
  const ns = prefix === undefined ? (defaultNs === '' ? undefined : defaultNs) : resolve(prefix);

  const children: Element[] = [];
  let text = '';
  const content = node[tag];
  if (Array.isArray(content)) {
    for (const child of content as OrderedNode[]) {
      const key = Object.keys(child).find((k) => k !== ATTRS_KEY);
      if (key === undefined || key === COMMENT_KEY) continue;
      if (key === TEXT_KEY) {
        const raw = String(child[TEXT_KEY]);
        text += decodeReferences(raw);
      } else if (key === CDATA_KEY) {
        const parts = child[CDATA_KEY] as OrderedNode[];
        for (const p of parts) text += String(p[TEXT_KEY] ?? '');
      } else {
        children.push(toElement(child, key, inner));
      }
    }
  }
  return { ns, local, attrs: plain, children, text };
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

/** Well-formedness checks and parse into the root {@link Element}. */
function parseDocument(xml: string): Element {
  if (typeof xml !== 'string') throw malformed('body is not a string');
  const body = xml.startsWith('\uFEFF') ? xml.slice(1) : xml;
  if (body.trim() === '') throw malformed('empty body');
  if (body.length > MAX_PIDF_LENGTH) throw malformed(`longer than ${MAX_PIDF_LENGTH} characters`);
  if (/<!DOCTYPE/i.test(body) || /<!ENTITY/i.test(body)) {
    throw malformed('DOCTYPE and entity declarations are not allowed');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 §2.2 forbids these characters
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(body)) {
    throw malformed('contains characters not allowed in XML');
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    throw malformed(`not well-formed XML (line ${valid.err.line}): ${valid.err.msg}`);
  }
  if (!stripTrailingMisc(body).endsWith('>')) throw malformed('text after the root element');

  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(body) as OrderedNode[];
  } catch (e) {
    throw malformed(`not well-formed XML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const roots: { node: OrderedNode; tag: string }[] = [];
  for (const node of nodes) {
    const key = Object.keys(node).find((k) => k !== ATTRS_KEY);
    if (key === undefined || key === COMMENT_KEY) continue;
    if (key === TEXT_KEY) {
      if (String(node[TEXT_KEY]).trim() !== '') throw malformed('text outside the root element');
      continue;
    }
    if (key === CDATA_KEY) throw malformed('CDATA outside the root element');
    roots.push({ node, tag: key });
  }
  const [root, ...more] = roots;
  if (root === undefined) throw malformed('no root element');
  if (more.length > 0) throw malformed('more than one root element');
  return toElement(root.node, root.tag, new Map([['', '']]));
}

// ---------------------------------------------------------------------------------------------

const describe = (el: Element): string => `<${el.local}> in namespace ${JSON.stringify(el.ns ?? '')}`;
const childrenOf = (el: Element, ns: string, local: string): Element[] =>
  el.children.filter((c) => c.ns === ns && c.local === local);

/**
 * Parses an xs:dateTime (XML Schema Part 2 §3.2.7) to epoch milliseconds. A value without a
 * time zone is taken as UTC. Answers `undefined` when malformed.
 */
export function parseXsDateTime(value: string): EpochMs | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/.exec(
    value.trim(),
  );
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, tz] = m;
  const [y, mo, d, h, mi, s] = [ys, mos, ds, hs, mis, ss].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined; // e.g. Feb 30
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  date.setUTCHours(h, mi, s, ms);
  let offsetMin = 0;
  if (tz !== undefined && tz !== 'Z') {
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 14 || om > 59 || (oh === 14 && om > 0)) return undefined;
    offsetMin = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return date.getTime() - offsetMin * 60_000;
}

/** Formats epoch milliseconds as an xs:dateTime in UTC at second resolution (`...T06:00:00Z`). */
export function formatXsDateTime(t: EpochMs): string {
  if (!Number.isFinite(t)) throw badRequest(`invalid instant ${String(t)}`);
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function validClientId(raw: string, where: string): string {
  const id = raw.trim();
  if (id === '') throw malformed(`empty MCPTT client ID in ${where}`);
  if (id.length > MAX_CLIENT_ID_LENGTH) {
    throw malformed(`MCPTT client ID in ${where} longer than ${MAX_CLIENT_ID_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
  if (/[\u0000-\u001F\u007F]/.test(id))
    throw malformed(`control character in the MCPTT client ID in ${where}`);
  return id;
}

function uri(value: string, what: string): SipUri {
  try {
    return normalizeSipUri(value);
  } catch (e) {
    throw malformed(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Parses one client's affiliation PUBLISH body (TS 24.379 §9.2.1, Annex F.3).
 *
 * - root `<presence>` in {@link PIDF_NS} with an `entity` (the MCPTT ID, normalized);
 * - exactly one PIDF `<tuple>` with a `<status>` holding the MCPTT `<affiliation group=... status=...
 *   expires=...>` elements; the MCPTT client ID is the MCPTT `<p-id>` of the tuple, else of the
 *   presence, else the tuple `id`;
 * - `expires` is an xs:dateTime; absent → `now + defaultExpiresMs`; later than
 *   `now + maxExpiresMs` → capped; in the past, or `status` `deaffiliating`/`deaffiliated` →
 *   `expiresAt = now` (de-affiliation);
 * - a group listed twice: the last one wins; more than {@link MAX_AFFILIATIONS} elements refused.
 *
 * @throws DomainError `bad_request` `malformed affiliation PIDF: <reason>` for anything malformed:
 *   not XML, DOCTYPE/entities, wrong root or namespace, missing entity, bad URI, bad date, bad status.
 */
export function parseAffiliationPidf(xml: string, opts: ParseAffiliationPidfOptions): AffiliationPidf {
  const { now } = opts;
  const maxExpiresMs = opts.maxExpiresMs ?? MAX_AFFILIATION_EXPIRES_MS;
  const defaultExpiresMs = Math.min(opts.defaultExpiresMs ?? DEFAULT_AFFILIATION_EXPIRES_MS, maxExpiresMs);

  const root = parseDocument(xml);
  if (root.ns !== PIDF_NS || root.local !== 'presence') {
    throw malformed(`root element must be <presence> in namespace "${PIDF_NS}", found ${describe(root)}`);
  }
  const entityAttr = root.attrs.get('entity');
  if (entityAttr === undefined || entityAttr.trim() === '')
    throw malformed('<presence> has no entity attribute');
  const entity = uri(entityAttr, 'invalid entity');

  const tuples = childrenOf(root, PIDF_NS, 'tuple');
  const [tuple, ...otherTuples] = tuples;
  if (tuple === undefined) throw malformed('no <tuple> element');
  if (otherTuples.length > 0) throw malformed('more than one <tuple> element (one client per document)');
  const statuses = childrenOf(tuple, PIDF_NS, 'status');
  const [status, ...otherStatuses] = statuses;
  if (status === undefined) throw malformed('<tuple> has no <status> element');
  if (otherStatuses.length > 0) throw malformed('<tuple> has more than one <status> element');

  const pId =
    childrenOf(tuple, MCPTT_PRES_INFO_NS, 'p-id')[0] ?? childrenOf(root, MCPTT_PRES_INFO_NS, 'p-id')[0];
  const tupleId = tuple.attrs.get('id');
  let clientId: string;
  if (pId !== undefined) clientId = validClientId(pId.text, '<p-id>');
  else if (tupleId !== undefined) clientId = validClientId(tupleId, 'the tuple id');
  else throw malformed('no MCPTT client ID: neither <p-id> nor a tuple id');

  const elements = childrenOf(status, MCPTT_PRES_INFO_NS, 'affiliation');
  if (elements.length > MAX_AFFILIATIONS) {
    throw malformed(`${elements.length} <affiliation> elements, at most ${MAX_AFFILIATIONS} allowed`);
  }
  const byGroup = new Map<SipUri, EpochMs>();
  elements.forEach((el, i) => {
    const where = `<affiliation> #${i + 1}`;
    const group = el.attrs.get('group');
    if (group === undefined || group.trim() === '') throw malformed(`${where} has no group attribute`);
    const groupId = uri(group, `invalid group in ${where}`);
    const statusAttr = el.attrs.get('status')?.trim();
    if (statusAttr !== undefined && !STATUSES.has(statusAttr)) {
      throw malformed(`${where} has unknown status ${JSON.stringify(statusAttr)}`);
    }
    const expires = el.attrs.get('expires');
    let expiresAt: EpochMs;
    if (expires === undefined) {
      expiresAt = now + defaultExpiresMs;
    } else {
      const t = parseXsDateTime(expires);
      if (t === undefined)
        throw malformed(`${where} has invalid expires ${JSON.stringify(expires)} (xs:dateTime)`);
      expiresAt = Math.min(t, now + maxExpiresMs);
    }
    if (statusAttr === 'deaffiliating' || statusAttr === 'deaffiliated' || expiresAt <= now) expiresAt = now;
    byGroup.delete(groupId); // last wins, and takes the last position
    byGroup.set(groupId, expiresAt);
  });

  return {
    entity,
    clientId,
    affiliations: [...byGroup].map(([groupId, expiresAt]) => ({ groupId, expiresAt })),
  };
}

// ---------------------------------------------------------------------------------------------

function checkXmlChars(s: string, what: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 §2.2 forbids these characters
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s)) {
    throw badRequest(`${what} contains characters that XML cannot carry`);
  }
}

/** Escapes an attribute value (XML 1.0 §2.4, §3.3.3: whitespace kept as character references). */
export function escapeXmlAttribute(s: string): string {
  checkXmlChars(s, 'attribute value');
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/** Escapes character data (XML 1.0 §2.4). */
export function escapeXmlText(s: string): string {
  checkXmlChars(s, 'text');
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** An xs:ID / NCName (approximation in ASCII) usable as a PIDF tuple id. */
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Serializes one client's affiliations as the PIDF body of TS 24.379 §9.2.1 / Annex F.3, with the
 * MCPTT client ID both as `<p-id>` and (when it is a valid xs:ID) as the tuple id. `expires` is
 * written at second resolution in UTC; `status` defaults to `affiliated`.
 * @throws DomainError `bad_request` when a value cannot be carried (control characters, bad instant).
 */
export function serializeAffiliationPidf(doc: AffiliationPidfDocument): string {
  const tupleId = NCNAME.test(doc.clientId) ? doc.clientId : 'mcptt-client';
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<presence xmlns="${PIDF_NS}" xmlns:mcpttPI10="${MCPTT_PRES_INFO_NS}" entity="${escapeXmlAttribute(doc.entity)}">`,
    `  <tuple id="${escapeXmlAttribute(tupleId)}">`,
  ];
  if (doc.affiliations.length === 0) {
    lines.push('    <status/>');
  } else {
    lines.push('    <status>');
    for (const a of doc.affiliations) {
      lines.push(
        `      <mcpttPI10:affiliation group="${escapeXmlAttribute(a.groupId)}" status="${escapeXmlAttribute(a.status ?? 'affiliated')}" expires="${formatXsDateTime(a.expiresAt)}"/>`,
      );
    }
    lines.push('    </status>');
  }
  lines.push(
    `    <mcpttPI10:p-id>${escapeXmlText(doc.clientId)}</mcpttPI10:p-id>`,
    '  </tuple>',
    '</presence>',
    '',
  );
  return lines.join('\n');
}
