/**
 * The affiliation PIDF body (`application/pidf+xml`) of TS 24.379 §9.2 (affiliation by SIP
 * PUBLISH, Event: presence) with the `urn:3gpp:ns:mcpttPresInfo:1.0` extension of TS 24.379
 * Annex F.3, on top of PIDF (RFC 3863, `urn:ietf:params:xml:ns:pidf`).
 *
 * Parsing is namespace-aware (Namespaces in XML 1.0): prefixes are resolved from `xmlns`
 * declarations in scope, so any prefix (or a default namespace) bound to the MCPTT namespace works,
 * and elements of other namespaces are ignored. DOCTYPE and entity declarations are refused.
 * The XML reading itself is core/xml-tree.ts.
 */
import { badRequest, type DomainError } from './errors.ts';
import { normalizeSipUri } from './ids.ts';
import type { EpochMs, SipUri } from './model.ts';
import { describeXmlElement, isXmlText, parseXmlTree, xmlChildren } from './xml-tree.ts';

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

/** Names the document in error messages (`malformed affiliation PIDF: ...`). */
const WHAT = 'affiliation PIDF';

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

const malformed = (why: string): DomainError => badRequest(`malformed ${WHAT}: ${why}`);

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

  const root = parseXmlTree(xml, { what: WHAT, maxLength: MAX_PIDF_LENGTH });
  if (root.ns !== PIDF_NS || root.local !== 'presence') {
    throw malformed(
      `root element must be <presence> in namespace "${PIDF_NS}", found ${describeXmlElement(root)}`,
    );
  }
  const entityAttr = root.attrs.get('entity');
  if (entityAttr === undefined || entityAttr.trim() === '')
    throw malformed('<presence> has no entity attribute');
  const entity = uri(entityAttr, 'invalid entity');

  const tuples = xmlChildren(root, PIDF_NS, 'tuple');
  const [tuple, ...otherTuples] = tuples;
  if (tuple === undefined) throw malformed('no <tuple> element');
  if (otherTuples.length > 0) throw malformed('more than one <tuple> element (one client per document)');
  const statuses = xmlChildren(tuple, PIDF_NS, 'status');
  const [status, ...otherStatuses] = statuses;
  if (status === undefined) throw malformed('<tuple> has no <status> element');
  if (otherStatuses.length > 0) throw malformed('<tuple> has more than one <status> element');

  const pId =
    xmlChildren(tuple, MCPTT_PRES_INFO_NS, 'p-id')[0] ?? xmlChildren(root, MCPTT_PRES_INFO_NS, 'p-id')[0];
  const tupleId = tuple.attrs.get('id');
  let clientId: string;
  if (pId !== undefined) clientId = validClientId(pId.text, '<p-id>');
  else if (tupleId !== undefined) clientId = validClientId(tupleId, 'the tuple id');
  else throw malformed('no MCPTT client ID: neither <p-id> nor a tuple id');

  const elements = xmlChildren(status, MCPTT_PRES_INFO_NS, 'affiliation');
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
  if (!isXmlText(s)) {
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
