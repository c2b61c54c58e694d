/**
 * SIP message model (RFC 3261 §7). Header values are kept as text exactly as received (after
 * unfolding, RFC 3261 §7.3.1); parsed views (Via, CSeq, From/To, …) are computed by helpers in
 * sip/message/*. Names are kept in their canonical long form (compact forms expanded, §7.3.3).
 */

export type SipMethod = string; // INVITE, ACK, BYE, CANCEL, REGISTER, OPTIONS, PUBLISH, MESSAGE, NOTIFY, … or extension

/**
 * Ordered header fields. One field per header field line; comma-joined values stay in one field.
 *
 * The fields are kept in one flat array, name and value side by side: a message's header section is
 * one array and its strings. A pair array per field would cost two more objects (64 bytes) per field,
 * and transactions keep their messages' skeletons for up to 64*T1 (§17), so every call would hold
 * them that long.
 */
export class SipHeaders {
  /** [name0, value0, name1, value1, …], names canonical ({@link canonicalHeaderName}). */
  private fields: string[] = [];

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [n, v] of entries) this.add(n, v);
  }

  /** The number of header fields. */
  get size(): number {
    return this.fields.length >> 1;
  }

  /** The fields in order as [name, value] pairs: a copy, built at each read (change fields with the methods). */
  get entries(): [name: string, value: string][] {
    const out: [string, string][] = [];
    this.forEach((n, v) => {
      out.push([n, v]);
    });
    return out;
  }

  /** Calls `fn` for each field in order. */
  forEach(fn: (name: string, value: string) => void): void {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) fn(f[i] as string, f[i + 1] as string);
  }

  /** Index in `fields` of the first field named `n` (canonical), or -1. */
  private indexOf(n: string): number {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) return i;
    return -1;
  }

  /** Appends a header field (name canonicalized). */
  add(name: string, value: string): this {
    this.fields.push(canonicalHeaderName(name), value);
    return this;
  }

  /** Replaces every field of that name with one field (appended where the first one stood). */
  set(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.indexOf(n);
    this.remove(n);
    if (i < 0) this.fields.push(n, value);
    else this.fields.splice(i, 0, n, value);
    return this;
  }

  /** Puts a field first among fields of that name (e.g. a new top Via), or first overall if none. */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    this.fields.splice(Math.max(this.indexOf(n), 0), 0, n, value);
    return this;
  }

  /** Rewrites the value of the first field of that name, where it stands; false when there is none. */
  replaceFirst(name: string, value: string): boolean {
    const i = this.indexOf(canonicalHeaderName(name));
    if (i < 0) return false;
    this.fields[i + 1] = value;
    return true;
  }

  remove(name: string): this {
    const n = canonicalHeaderName(name);
    const f = this.fields;
    for (let i = f.length - 2; i >= 0; i -= 2) if (f[i] === n) f.splice(i, 2);
    return this;
  }

  has(name: string): boolean {
    return this.indexOf(canonicalHeaderName(name)) >= 0;
  }

  /** The first field's raw value. */
  get(name: string): string | undefined {
    const i = this.indexOf(canonicalHeaderName(name));
    return i < 0 ? undefined : this.fields[i + 1];
  }

  /** Every field's raw value, in order (NOT split at commas; see splitHeaderValues). */
  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const f = this.fields;
    const out: string[] = [];
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) out.push(f[i + 1] as string);
    return out;
  }

  /**
   * A copy holding only the fields whose name is in `names` (canonical names), in order. Its array
   * is exactly as long as its fields (one grown by pushes has room for up to 17 strings): picked
   * copies are the skeletons transactions keep through their last timer.
   */
  pick(names: ReadonlySet<string>): SipHeaders {
    const picked: string[] = [];
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2)
      if (names.has(f[i] as string)) picked.push(f[i] as string, f[i + 1] as string);
    const out = new SipHeaders();
    out.fields = picked.slice();
    return out;
  }

  clone(): SipHeaders {
    const out = new SipHeaders();
    out.fields = this.fields.slice();
    return out;
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
