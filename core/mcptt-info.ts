/**
 * The MCPTT info body, `application/vnd.3gpp.mcptt-info+xml` (TS 24.379 Annex F.1, namespace
 * `urn:3gpp:ns:mcpttInfo:1.0`), carried next to the SDP in group call INVITEs (TS 24.379
 * §10.1.1.2.1.1 for the client, §10.1.1.4 for the controlling function and its invitations):
 *
 * ```xml
 * <mcpttinfo xmlns="urn:3gpp:ns:mcpttInfo:1.0">
 *   <mcptt-Params>
 *     <session-type>prearranged</session-type>
 *     <mcptt-request-uri type="Normal"><mcpttURI>sip:tg-1@primary.example</mcpttURI></mcptt-request-uri>
 *     <mcptt-calling-user-id type="Normal"><mcpttURI>sip:alice@primary.example</mcpttURI></mcptt-calling-user-id>
 *     <mcptt-calling-group-id type="Normal"><mcpttURI>sip:tg-1@primary.example</mcpttURI></mcptt-calling-group-id>
 *     <mcptt-client-id type="Normal"><mcpttString>client-1</mcpttString></mcptt-client-id>
 *   </mcptt-Params>
 * </mcpttinfo>
 * ```
 *
 * Annex F.1 `contentType` elements wrap their value: URIs in `<mcpttURI>`, strings in
 * `<mcpttString>`, booleans in `<mcpttBoolean>`, with `type="Normal"` (or `"Encrypted"` when the
 * value is protected, TS 24.379 §4.8). `session-type` is a plain `xs:string`.
 */
import { escapeXmlText } from './affiliation-pidf.ts';
import { badRequest } from './errors.ts';
import { describeXmlElement, isXmlText, parseXmlTree, type XmlElement, xmlChildren } from './xml-tree.ts';

/** TS 24.379 Annex F.1 namespace of `<mcpttinfo>`. */
export const MCPTT_INFO_NS = 'urn:3gpp:ns:mcpttInfo:1.0';
/** MIME type of the body (TS 24.379 Annex F.1, IANA registration). */
export const MCPTT_INFO_TYPE = 'application/vnd.3gpp.mcptt-info+xml';
/** Longest accepted body, in characters. */
export const MAX_MCPTT_INFO_LENGTH = 65_536;
/** Longest accepted value of one element, in characters. */
export const MAX_MCPTT_INFO_VALUE_LENGTH = 2048;

/** The session types this server understands, as the TypeScript side names them. */
export type McpttSessionType = 'prearranged' | 'chat' | 'ad-hoc' | 'private';

/** The fields of `<mcptt-Params>` this server reads and writes. */
export interface McpttInfo {
  /** `<session-type>`; on the wire `ad-hoc` is `adhoc` (TS 24.379 §17). */
  sessionType?: McpttSessionType;
  /** `<mcptt-request-uri>`: the group (TGI) or user the request is for. */
  requestUri?: string;
  /** `<mcptt-calling-user-id>`: the MCPTT ID of the initiator. */
  callingUserId?: string;
  /** `<mcptt-calling-group-id>`: the group the call is on (set in invitations to members). */
  callingGroupId?: string;
  /** `<mcptt-called-party-id>`: the called user of a private call. */
  calledPartyId?: string;
  /** `<mcptt-client-id>`: the MCPTT client ID of the initiator's client (TS 24.379 §4.10). */
  clientId?: string;
  /** `<emergency-ind>`. */
  emergencyInd?: boolean;
  /** `<imminentperil-ind>`. */
  imminentPerilInd?: boolean;
}

type Kind = 'uri' | 'string' | 'boolean';
type Field = Exclude<keyof McpttInfo, 'sessionType'>;

/**
 * The `contentType` elements, in the order of the `mcptt-ParamsType` sequence of Annex F.1
 * (`session-type` comes before all of them).
 */
const CONTENT_ELEMENTS: readonly { field: Field; element: string; kind: Kind }[] = [
  { field: 'requestUri', element: 'mcptt-request-uri', kind: 'uri' },
  { field: 'callingUserId', element: 'mcptt-calling-user-id', kind: 'uri' },
  { field: 'calledPartyId', element: 'mcptt-called-party-id', kind: 'uri' },
  { field: 'callingGroupId', element: 'mcptt-calling-group-id', kind: 'uri' },
  { field: 'emergencyInd', element: 'emergency-ind', kind: 'boolean' },
  { field: 'imminentPerilInd', element: 'imminentperil-ind', kind: 'boolean' },
  { field: 'clientId', element: 'mcptt-client-id', kind: 'string' },
];

const WRAPPER: Readonly<Record<Kind, string>> = {
  uri: 'mcpttURI',
  string: 'mcpttString',
  boolean: 'mcpttBoolean',
};

const SESSION_TYPE_TO_WIRE: Readonly<Record<McpttSessionType, string>> = {
  prearranged: 'prearranged',
  chat: 'chat',
  'ad-hoc': 'adhoc',
  private: 'private',
};
const SESSION_TYPE_FROM_WIRE: ReadonlyMap<string, McpttSessionType> = new Map([
  ['prearranged', 'prearranged'],
  ['chat', 'chat'],
  ['adhoc', 'ad-hoc'],
  ['ad-hoc', 'ad-hoc'],
  ['private', 'private'],
]);

/** RFC 3986 §3.1 scheme, then something without whitespace. */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

const malformed = (why: string) => badRequest(`malformed mcptt-info: ${why}`);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused in strings
const CONTROL = /[\u0000-\u001F\u007F]/;

/** What is wrong with a URI or string value, or `undefined` when it can be carried. */
function valueProblem(value: string, kind: 'uri' | 'string'): string | undefined {
  if (value.length > MAX_MCPTT_INFO_VALUE_LENGTH)
    return `longer than ${MAX_MCPTT_INFO_VALUE_LENGTH} characters`;
  if (!isXmlText(value)) return 'contains characters that XML cannot carry';
  if (kind === 'uri' && !URI.test(value)) {
    return `${JSON.stringify(value.slice(0, 80))} is not a URI (scheme:..., no whitespace)`;
  }
  if (kind === 'string') {
    if (value.trim() === '') return 'is empty';
    if (CONTROL.test(value)) return 'contains control characters';
  }
  return undefined;
}

/**
 * Serializes `p` as an MCPTT info document (TS 24.379 Annex F.1): elements in schema order,
 * absent fields omitted, every `contentType` element `type="Normal"` with its wrapper
 * (`<mcpttURI>`, `<mcpttString>`, `<mcpttBoolean>`).
 * @throws DomainError `bad_request` when a value cannot be carried: a URI without scheme or with
 *   whitespace, an empty client ID or one with control characters, characters XML cannot carry, a
 *   value longer than
 *   {@link MAX_MCPTT_INFO_VALUE_LENGTH}, an unknown session type.
 */
export function buildMcpttInfo(p: McpttInfo): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<mcpttinfo xmlns="${MCPTT_INFO_NS}">`,
    '  <mcptt-Params>',
  ];
  if (p.sessionType !== undefined) {
    const wire = SESSION_TYPE_TO_WIRE[p.sessionType];
    if (wire === undefined) throw badRequest(`unknown MCPTT session type ${JSON.stringify(p.sessionType)}`);
    lines.push(`    <session-type>${wire}</session-type>`);
  }
  for (const { field, element, kind } of CONTENT_ELEMENTS) {
    const v = p[field];
    if (v === undefined) continue;
    let text: string;
    if (kind === 'boolean') {
      if (typeof v !== 'boolean') throw badRequest(`mcptt-info <${element}> must be a boolean`);
      text = v ? 'true' : 'false';
    } else {
      if (typeof v !== 'string') throw badRequest(`mcptt-info <${element}> must be a string`);
      const problem = valueProblem(v, kind);
      if (problem !== undefined) throw badRequest(`mcptt-info <${element}> ${problem}`);
      text = escapeXmlText(v);
    }
    const w = WRAPPER[kind];
    lines.push(`    <${element} type="Normal"><${w}>${text}</${w}></${element}>`);
  }
  lines.push('  </mcptt-Params>', '</mcpttinfo>', '');
  return lines.join('\n');
}

/** xs:boolean (XML Schema Part 2 §3.2.2): `true`, `false`, `1`, `0`, whitespace collapsed. */
function parseXsBoolean(raw: string, where: string): boolean {
  const v = raw.trim();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw malformed(`${where} is not a boolean (true, false, 1 or 0): ${JSON.stringify(v.slice(0, 40))}`);
}

/** The value of one `contentType` element (wrapped, or as bare text for lenient reading). */
function contentValue(el: XmlElement, kind: Kind): string | boolean {
  const where = `<${el.local}>`;
  const type = el.attrs.get('type')?.trim();
  if (type === 'Encrypted') {
    throw malformed(`${where} is encrypted (type="Encrypted"); encrypted MCPTT info is not supported`);
  }
  if (type !== undefined && type !== 'Normal') {
    throw malformed(`${where} has unknown type ${JSON.stringify(type)} (Normal or Encrypted)`);
  }
  const wrappers = el.children.filter((c) => c.ns === MCPTT_INFO_NS);
  let raw: string;
  if (wrappers.length === 0) {
    if (el.children.length > 0) throw malformed(`${where} has no <${WRAPPER[kind]}> value`);
    raw = el.text; // bare value, as some deployed clients send it
  } else {
    const [w, ...more] = wrappers;
    if (w === undefined || more.length > 0) throw malformed(`${where} has more than one value element`);
    if (w.local !== WRAPPER[kind]) {
      throw malformed(`${where} must hold <${WRAPPER[kind]}>, found ${describeXmlElement(w)}`);
    }
    if (el.text.trim() !== '') throw malformed(`${where} mixes text with <${w.local}>`);
    raw = w.text;
  }
  if (kind === 'boolean') return parseXsBoolean(raw, where);
  // xs:anyURI collapses whitespace; the client ID is trimmed too (like the PIDF <p-id>).
  const value = raw.trim();
  if (value === '') throw malformed(`${where} is empty`);
  const problem = valueProblem(value, kind);
  if (problem !== undefined) throw malformed(`${where} ${problem}`);
  return value;
}

/**
 * Parses an MCPTT info body (TS 24.379 Annex F.1), namespace-aware (any prefix bound to
 * {@link MCPTT_INFO_NS}).
 *
 * - the root is `<mcpttinfo>` in {@link MCPTT_INFO_NS}; at most one `<mcptt-Params>` (none → `{}`);
 * - elements may come in any order; each known element at most once; unknown elements of the
 *   namespace (e.g. `<mcptt-access-token>`, `<anyExt>`) and elements of other namespaces are ignored;
 * - a `contentType` element holds its `<mcpttURI>`/`<mcpttString>`/`<mcpttBoolean>` wrapper, or the
 *   bare value as text (accepted for interoperability); `type` is `Normal` or absent;
 * - `session-type` is one of `prearranged`, `chat`, `adhoc` (read as `ad-hoc`; `ad-hoc` accepted too),
 *   `private`;
 * - values are trimmed; URIs need a scheme and no whitespace; the client ID must not be empty nor
 *   hold control characters. URIs are not normalized (core/ids.ts does that where identities are used).
 *
 * @throws DomainError `bad_request` `malformed mcptt-info: <reason>`: not XML, DOCTYPE/entities, wrong
 *   root or namespace, duplicate elements, wrong wrapper, `type="Encrypted"` (not supported),
 *   invalid boolean or URI, unknown session type, longer than {@link MAX_MCPTT_INFO_LENGTH}.
 */
export function parseMcpttInfo(xml: string): McpttInfo {
  const root = parseXmlTree(xml, { what: 'mcptt-info', maxLength: MAX_MCPTT_INFO_LENGTH });
  if (root.ns !== MCPTT_INFO_NS || root.local !== 'mcpttinfo') {
    throw malformed(
      `root element must be <mcpttinfo> in namespace "${MCPTT_INFO_NS}", found ${describeXmlElement(root)}`,
    );
  }
  const paramsList = xmlChildren(root, MCPTT_INFO_NS, 'mcptt-Params');
  if (paramsList.length > 1) throw malformed('more than one <mcptt-Params> element');
  const params = paramsList[0];
  const out: McpttInfo = {};
  if (params === undefined) return out;

  const single = (local: string): XmlElement | undefined => {
    const found = xmlChildren(params, MCPTT_INFO_NS, local);
    if (found.length > 1) throw malformed(`more than one <${local}> element`);
    return found[0];
  };

  const st = single('session-type');
  if (st !== undefined) {
    if (st.children.length > 0) throw malformed('<session-type> must hold text only');
    const wire = st.text.trim();
    const sessionType = SESSION_TYPE_FROM_WIRE.get(wire);
    if (sessionType === undefined) {
      throw malformed(
        `unsupported <session-type> ${JSON.stringify(wire.slice(0, 40))} (prearranged, chat, adhoc or private)`,
      );
    }
    out.sessionType = sessionType;
  }
  for (const { field, element, kind } of CONTENT_ELEMENTS) {
    const el = single(element);
    if (el === undefined) continue;
    const value = contentValue(el, kind);
    (out as Record<Field, unknown>)[field] = value;
  }
  return out;
}
