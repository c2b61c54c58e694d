/**
 * multipart/mixed bodies (RFC 2046 §5.1, as used by SIP, RFC 3261 §7.4 and RFC 5621) and the MCPTT
 * combination of an SDP offer/answer with an `application/vnd.3gpp.mcptt-info+xml` document
 * (3GPP TS 24.379 §6.2 / Annex F). Binary-safe: parts are Buffers.
 */
import { randomBytes } from 'node:crypto';
import { parseParams, SipParseError, scanToken, skipWs, unquote } from './grammar.ts';

/** One body part: its MIME header fields (names as written) and its content. */
export interface MimePart {
  headers: [string, string][];
  body: Buffer;
}

/** Media type of the MCPTT information document (3GPP TS 24.379 Annex F.1). */
export const MCPTT_INFO_CONTENT_TYPE = 'application/vnd.3gpp.mcptt-info+xml';
/** Media type of SDP (RFC 4566). */
export const SDP_CONTENT_TYPE = 'application/sdp';

/** A parsed Content-Type: lower-cased `type/subtype` and parameters (names lower-cased, values unquoted). */
export interface MediaType {
  type: string;
  params: Map<string, string>;
}

/** Parses a Content-Type value (RFC 3261 §20.15 media-type); undefined when malformed. */
export const parseMediaType = (value: string): MediaType | undefined => {
  const v = value.trim();
  const a = scanToken(v, 0);
  if (a === 0) return undefined;
  const slash = skipWs(v, a);
  if (v.charCodeAt(slash) !== 47) return undefined;
  const s = skipWs(v, slash + 1);
  const b = scanToken(v, s);
  if (b === s) return undefined;
  const raw = new Map<string, string | null>();
  try {
    if (parseParams(v, b, raw, 'Content-Type') !== v.length) return undefined;
  } catch {
    return undefined;
  }
  const params = new Map<string, string>();
  for (const [k, val] of raw) params.set(k, val === null ? '' : val.startsWith('"') ? unquote(val) : val);
  return { type: `${v.slice(0, a)}/${v.slice(s, b)}`.toLowerCase(), params };
};

/** The value of a part header (case-insensitive name), or undefined. */
export const partHeader = (part: MimePart, name: string): string | undefined => {
  const n = name.toLowerCase();
  return part.headers.find(([k]) => k.toLowerCase() === n)?.[1];
};

/** The lower-cased media type (without parameters) of a part; RFC 2046 §5.1 default is text/plain. */
export const partType = (part: MimePart): string => {
  const ct = partHeader(part, 'Content-Type');
  return ct === undefined ? 'text/plain' : (parseMediaType(ct)?.type ?? '');
};

/** RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace (1 to 70 characters, not ending in SP). */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** The boundary parameter of a multipart Content-Type, or undefined. */
export const boundaryOf = (contentType: string): string | undefined => {
  const mt = parseMediaType(contentType);
  const b = mt?.params.get('boundary');
  return b !== undefined && BOUNDARY.test(b) ? b : undefined;
};

const parsePartHeaders = (head: string): [string, string][] => {
  const out: [string, string][] = [];
  for (const line of head.split('\r\n')) {
    if (line.length === 0) continue;
    const last = out[out.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError('multipart: malformed part header');
    const name = line.slice(0, colon).trim();
    if (scanToken(name, 0) !== name.length || name.length === 0)
      throw new SipParseError('multipart: part header name is not a token');
    out.push([name, line.slice(colon + 1).trim()]);
  }
  return out;
};

/**
 * Finds the next delimiter line `--boundary` at or after `from` that starts a line (at `lineStart`
 * or after CRLF) and is followed by `--` (close), or by optional white space and CRLF. Returns
 * [start of the CRLF before it (or of the dash line at the very beginning), index after the line,
 * close?], or undefined.
 */
const findDelimiter = (body: Buffer, dash: Buffer, from: number): [number, number, boolean] | undefined => {
  let i = from;
  for (;;) {
    let at: number;
    let lineStart: number;
    if (i === 0 && body.subarray(0, dash.length).equals(dash)) {
      at = 0;
      lineStart = 0;
    } else {
      const crlfDash = body.indexOf(dash, Math.max(i, 2));
      if (crlfDash < 0) return undefined;
      if (body[crlfDash - 2] !== 13 || body[crlfDash - 1] !== 10) {
        i = crlfDash + 1;
        continue;
      }
      at = crlfDash - 2;
      lineStart = crlfDash;
    }
    let j = lineStart + dash.length;
    if (body[j] === 45 && body[j + 1] === 45) return [at, j + 2, true];
    while (body[j] === 32 || body[j] === 9) j++;
    if (body[j] === 13 && body[j + 1] === 10) return [at, j + 2, false];
    if (j >= body.length) return [at, j, false];
    i = lineStart + 1;
  }
};

/**
 * Parses a multipart body (RFC 2046 §5.1.1): preamble, parts separated by `CRLF--boundary`, the
 * close delimiter `--boundary--`, epilogue (ignored). Each part is MIME headers, an empty line and
 * the content; a part that starts with CRLF has no headers. Throws SipParseError when the
 * Content-Type has no valid boundary or the body has no delimiter / no close delimiter.
 */
export const parseMultipart = (body: Buffer, contentType: string): MimePart[] => {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw new SipParseError('multipart: missing or invalid boundary parameter');
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  let d = findDelimiter(body, dash, 0);
  if (!d) throw new SipParseError('multipart: no delimiter found');
  const parts: MimePart[] = [];
  while (!d[2]) {
    const partStart = d[1];
    const next = findDelimiter(body, dash, partStart);
    if (!next) throw new SipParseError('multipart: missing close delimiter');
    const content = body.subarray(partStart, next[0]);
    let headers: [string, string][] = [];
    let partBody: Buffer;
    if (content[0] === 13 && content[1] === 10) partBody = content.subarray(2);
    else {
      const sep = content.indexOf('\r\n\r\n');
      const headEnd = sep < 0 ? content.length : sep;
      headers = parsePartHeaders(content.toString('utf8', 0, headEnd));
      partBody = sep < 0 ? Buffer.alloc(0) : content.subarray(sep + 4);
    }
    parts.push({ headers, body: Buffer.from(partBody) });
    d = next;
  }
  return parts;
};

/** Makes a boundary that does not occur in any of the bodies. */
const makeBoundary = (bodies: Buffer[]): string => {
  for (;;) {
    const b = `mcptt-${randomBytes(12).toString('hex')}`;
    if (!bodies.some((x) => x.includes(b))) return b;
  }
};

/**
 * Builds a multipart/mixed body (RFC 2046 §5.1.1, no preamble or epilogue) and its Content-Type.
 * A random boundary is chosen when none is given; a given boundary must not occur in any part.
 */
export const buildMultipart = (
  parts: MimePart[],
  boundary?: string,
  subtype = 'mixed',
): { contentType: string; body: Buffer } => {
  const b = boundary ?? makeBoundary(parts.map((p) => p.body));
  if (!BOUNDARY.test(b)) throw new RangeError('invalid multipart boundary');
  if (parts.some((p) => p.body.includes(`--${b}`))) throw new RangeError('boundary occurs in a body part');
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head = p.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    chunks.push(Buffer.from(`--${b}\r\n${head}\r\n`, 'utf8'), p.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${b}--\r\n`));
  const needsQuote = /[^0-9A-Za-z'+_\-.]/.test(b);
  return {
    contentType: `multipart/${subtype};boundary=${needsQuote ? `"${b}"` : b}`,
    body: Buffer.concat(chunks),
  };
};

/** The SDP and MCPTT-info parts of an MCPTT SIP body. */
export interface McpttBody {
  sdp?: Buffer;
  mcpttInfo?: Buffer;
  /** All parts (one pseudo-part for a single-part body), for other content such as resource-lists. */
  parts: MimePart[];
}

/**
 * Builds the MCPTT body of 3GPP TS 24.379 (e.g. a group call INVITE or its 200): multipart/mixed
 * with an `application/sdp` part and an `application/vnd.3gpp.mcptt-info+xml` part, plus any
 * extra parts. Returns the Content-Type to put on the message and the body.
 */
export const buildMcpttBody = (
  sdp: string | Buffer,
  mcpttInfo: string | Buffer,
  extra: MimePart[] = [],
  boundary?: string,
): { contentType: string; body: Buffer } => {
  const buf = (x: string | Buffer) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x);
  return buildMultipart(
    [
      { headers: [['Content-Type', SDP_CONTENT_TYPE]], body: buf(sdp) },
      { headers: [['Content-Type', MCPTT_INFO_CONTENT_TYPE]], body: buf(mcpttInfo) },
      ...extra,
    ],
    boundary,
  );
};

/**
 * Extracts the SDP and MCPTT-info documents of a message body: a single-part body of either type,
 * or the first part of each type of a multipart/mixed body. Throws SipParseError on a malformed
 * multipart body.
 */
export const extractMcpttBody = (contentType: string | undefined, body: Buffer): McpttBody => {
  if (contentType === undefined || body.length === 0) return { parts: [] };
  const mt = parseMediaType(contentType);
  if (mt === undefined) throw new SipParseError('malformed Content-Type');
  const parts: MimePart[] = mt.type.startsWith('multipart/')
    ? parseMultipart(body, contentType)
    : [{ headers: [['Content-Type', contentType]], body }];
  const out: McpttBody = { parts };
  for (const p of parts) {
    const t = partType(p);
    if (t === SDP_CONTENT_TYPE && out.sdp === undefined) out.sdp = p.body;
    else if (t === MCPTT_INFO_CONTENT_TYPE && out.mcpttInfo === undefined) out.mcpttInfo = p.body;
  }
  return out;
};
