/**
 * SIP message model (RFC 3261 §7). Header values are kept as text exactly as received (after
 * unfolding, RFC 3261 §7.3.1); parsed views (Via, CSeq, From/To, …) are computed by helpers in
 * sip/message/*. Names are kept in their canonical long form (compact forms expanded, §7.3.3).
 */

export type SipMethod = string; // INVITE, ACK, BYE, CANCEL, REGISTER, OPTIONS, PUBLISH, MESSAGE, NOTIFY, … or extension

/** Ordered header fields. One entry per header field line; comma-joined values stay in one entry. */
export class SipHeaders {
  readonly entries: [name: string, value: string][] = [];

  constructor(entries: Iterable<[string, string]> = []) {
    for (const [n, v] of entries) this.add(n, v);
  }

  /** Appends a header field (name canonicalized). */
  add(name: string, value: string): this {
    this.entries.push([canonicalHeaderName(name), value]);
    return this;
  }

  /** Replaces every field of that name with one field (appended where the first one stood). */
  set(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.entries.findIndex(([k]) => k === n);
    this.remove(n);
    if (i < 0) this.entries.push([n, value]);
    else this.entries.splice(i, 0, [n, value]);
    return this;
  }

  /** Puts a field first among fields of that name (e.g. a new top Via), or first overall if none. */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.entries.findIndex(([k]) => k === n);
    this.entries.splice(Math.max(i, 0), 0, [n, value]);
    return this;
  }

  remove(name: string): this {
    const n = canonicalHeaderName(name);
    for (let i = this.entries.length - 1; i >= 0; i--)
      if (this.entries[i]?.[0] === n) this.entries.splice(i, 1);
    return this;
  }

  has(name: string): boolean {
    const n = canonicalHeaderName(name);
    return this.entries.some(([k]) => k === n);
  }

  /** The first field's raw value. */
  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    return this.entries.find(([k]) => k === n)?.[1];
  }

  /** Every field's raw value, in order (NOT split at commas; see splitHeaderValues). */
  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    return this.entries.filter(([k]) => k === n).map(([, v]) => v);
  }

  clone(): SipHeaders {
    return new SipHeaders(this.entries.map(([n, v]) => [n, v] as [string, string]));
  }
}

/**
 * The body of a message without one: one zero-length Buffer shared by all of them (it cannot be written
 * to), instead of a Buffer and an ArrayBuffer, about 180 bytes of heap, for each message built.
 */
export const EMPTY_BODY: Buffer = Buffer.alloc(0);

export interface SipRequest {
  kind: 'request';
  method: SipMethod;
  /** Request-URI as text. */
  uri: string;
  version: string; // 'SIP/2.0'
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §7.3.3 compact forms, plus the ones registered later (RFC 3841, 3903, 4028, 3515, 3892, 4474). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  c: 'Content-Type',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact',
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  n: 'Identity-Info',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events',
  v: 'Via',
  x: 'Session-Expires',
  y: 'Identity',
};

const SPECIAL_CASE: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
  'p-preferred-service': 'P-Preferred-Service',
  'p-asserted-service': 'P-Asserted-Service',
  'p-answer-state': 'P-Answer-State',
  rack: 'RAck',
  rseq: 'RSeq',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
};

const cache = new Map<string, string>();

/** Canonical header name: compact form expanded, case normalized (names are case-insensitive, §7.3.1). */
export const canonicalHeaderName = (name: string): string => {
  let c = cache.get(name);
  if (c !== undefined) return c;
  const lower = name.toLowerCase();
  c =
    COMPACT_FORMS[lower] ??
    SPECIAL_CASE[lower] ??
    lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
  if (cache.size < 1000) cache.set(name, c);
  return c;
};
