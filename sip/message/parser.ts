/**
 * SIP message parser (RFC 3261 §7, §18.3, §20, ABNF §25.1), hardened against malformed input
 * (RFC 4475 torture tests, PROTOS c07-sip): it never throws, uses no backtracking-prone regular
 * expressions, and bounds header count, line length and message size.
 *
 * What it checks:
 * - start line: Request-Line = Method SP Request-URI SP SIP-Version, single SPs, no trailing white
 *   space (RFC 4475 lwsstart, trws, lwsruri); Method a case-sensitive token; Request-URI a SIP/SIPS/tel
 *   URI or absoluteURI, no headers in a SIP Request-URI (escruri, ltgtruri); SIP-Version
 *   case-insensitive "SIP/2.0" (§7.1; badvers). Status-Line = SIP-Version SP 3DIGIT SP Reason-Phrase,
 *   code 100–699 (bigcode), reason phrase possibly empty (noreason) or UTF-8 (unreason).
 * - header fields: CRLF line ends, folding (§7.3.1), names are tokens, compact forms (§7.3.3), values
 *   UTF-8; the grammar of Via, From, To, Contact, Route, Record-Route, Call-ID, CSeq, Max-Forwards,
 *   Content-Length, Content-Type, Expires, Min-Expires, Retry-After, Date and Warning
 *   (see validate.ts); CSeq method = request method (mismatch01/02).
 * - presence: Via and CSeq always (a response could not be routed or matched without them);
 *   To/From/Call-ID only with `strictMandatory` — RFC 4475 §3.3.1 (insuf) treats their absence as an
 *   application-level 400, see validateRequestHeaders. Max-Forwards may be absent (RFC 2543, §3.4).
 * - body (§18.3, §20.14): UDP — Content-Length optional (rest of the datagram), octets beyond it are
 *   discarded (dblreq), fewer is an error (clerr); stream transports — Content-Length mandatory and
 *   exact.
 */
import { isUtf8 } from 'node:buffer';
import {
  inTable,
  isDigits,
  isHex,
  isToken,
  isWsp,
  parseBoundedInt,
  RESERVED_CHARS,
  SipParseError,
  UNRESERVED_CHARS,
} from './grammar.ts';
import { EMPTY_BODY, SipHeaders, type SipMessage } from './types.ts';
import { validateUri } from './uri.ts';
import { validateHeader } from './validate.ts';

/** Options of parseMessage. */
export interface ParseOptions {
  /** Transport the bytes came from; decides Content-Length rules (§18.3). Default 'udp'. */
  transport?: 'udp' | 'tcp';
  /** Also require To, From and Call-ID (RFC 3261 §8.1.1) instead of leaving them to validateRequestHeaders. */
  strictMandatory?: boolean;
  /** Maximum number of header fields (default 256). */
  maxHeaders?: number;
  /** Maximum length of one physical header line and of an unfolded value (default 8192 characters). */
  maxLineLength?: number;
  /** Maximum message size in bytes (default 1 MiB). */
  maxMessageSize?: number;
}

/** Result of parseMessage. On failure `partial` holds what could be read, so a 400 can still be built. */
export type ParseResult =
  | { ok: true; message: SipMessage }
  | {
      ok: false;
      error: string;
      kind?: 'request' | 'response';
      partial?: { method?: string; headers: SipHeaders };
      /** Suggested response status for a request: 400, or 505 for an unsupported SIP version, 513 when too large. */
      status?: number;
    };

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/** Trims SP / HTAB only (String#trim would also eat NBSP and friends). */
const trimWsp = (s: string): string => {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
};

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (literal is case-insensitive, §7.1). 0 = malformed, 1 = 2.0, 2 = other. */
const checkVersion = (v: string): 0 | 1 | 2 => {
  if (v.length < 7 || v.slice(0, 4).toUpperCase() !== 'SIP/') return 0;
  const dot = v.indexOf('.', 4);
  if (dot < 0 || !isDigits(v.slice(4, dot)) || !isDigits(v.slice(dot + 1))) return 0;
  return v.length === 7 && v[4] === '2' && v[6] === '0' ? 1 : 2;
};

/**
 * Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
 * (RFC 3261 §25.1).
 */
const isReasonPhrase = (r: string): boolean => {
  for (let i = 0; i < r.length; i++) {
    const c = r.charCodeAt(i);
    if (c >= 0x80 || c === 32 || c === 9) continue;
    if (c === 37) {
      if (!isHex(r.charCodeAt(i + 1)) || !isHex(r.charCodeAt(i + 2))) return false;
      i += 2;
      continue;
    }
    if (!inTable(UNRESERVED_CHARS, c) && !inTable(RESERVED_CHARS, c)) return false;
  }
  return true;
};

class Fail extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * Parses one SIP message from `data` (a UDP datagram, or one message cut by SipStreamFramer).
 * Never throws; see the module comment for the checks made.
 */
export const parseMessage = (data: Buffer, opts: ParseOptions = {}): ParseResult => {
  let kind: 'request' | 'response' | undefined;
  let method: string | undefined;
  let headers: SipHeaders | undefined;
  const fail = (error: string, status = 400): ParseResult => {
    const r: ParseResult = { ok: false, error, status };
    if (kind !== undefined) r.kind = kind;
    if (headers !== undefined) r.partial = method !== undefined ? { method, headers } : { headers };
    return r;
  };
  try {
    const transport = opts.transport ?? 'udp';
    const maxHeaders = opts.maxHeaders ?? 256;
    const maxLine = opts.maxLineLength ?? 8192;
    const maxSize = opts.maxMessageSize ?? 1024 * 1024;
    if (data.length > maxSize) return fail(`message larger than ${maxSize} bytes`, 513);

    // §7.5: CRLFs before the start-line are ignored (keep-alives, RFC 5626 §3.5.1).
    let start = 0;
    while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
    if (start >= data.length) return fail('empty message');

    // The header section ends at the first CRLFCRLF (a message without header fields ends its
    // start-line with the CRLF of the empty line).
    const sep = data.indexOf(CRLF_CRLF, start);
    const headEnd = sep < 0 ? data.length : sep;
    const headBuf = data.subarray(start, headEnd);
    let firstError: Fail | undefined =
      sep < 0 ? new Fail('no empty line after the header fields') : undefined;
    const note = (e: Fail) => {
      if (firstError === undefined) firstError = e;
    };
    let encoding: 'utf8' | 'latin1' = 'utf8';
    if (!isUtf8(headBuf)) {
      note(new Fail('header section is not valid UTF-8'));
      encoding = 'latin1';
    }
    // Each line is decoded on its own (CR and LF never occur inside a UTF-8 sequence), so a header value
    // kept after parsing (a tag, a branch, a Contact) holds on to its line, not to the whole header
    // section: V8 makes substrings of 13 characters or more slices of the string they were cut from.
    let lineEnd = 0;
    const lineAt = (from: number): string => {
      const n = headBuf.length;
      let i = from;
      while (i < n && !(headBuf[i] === 13 && headBuf[i + 1] === 10)) i++;
      lineEnd = i;
      return headBuf.toString(encoding, from, i);
    };

    // ---- start line (§7.1, §7.2)
    const startLine = lineAt(0);
    const afterStartLine = lineEnd + 2;
    if (startLine.length > maxLine) return fail('start line too long', 414);
    // Start-line errors are noted, not returned at once, so the header fields still end up in `partial`.
    let uri = '';
    let status = 0;
    let reason = '';
    const sp1 = startLine.indexOf(' ');
    const first = sp1 < 0 ? startLine : startLine.slice(0, sp1);
    // A method is a token and cannot contain "/", so a start line opening with "SIP/" is a Status-Line.
    if (first.length >= 4 && first.slice(0, 4).toUpperCase() === 'SIP/') {
      kind = 'response';
      // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF; Status-Code = 3DIGIT (100-699).
      const v = checkVersion(first);
      if (v !== 1)
        note(
          v === 0
            ? new Fail('malformed SIP-Version in status line')
            : new Fail('unsupported SIP version', 505),
        );
      const code = startLine.slice(sp1 + 1, sp1 + 4);
      if (sp1 < 0 || !isDigits(code) || code.length !== 3 || startLine.charCodeAt(sp1 + 4) !== 32)
        note(new Fail('Status-Line: expected SIP-Version SP 3DIGIT SP Reason-Phrase'));
      status = Number(code);
      if (status < 100 || status > 699) note(new Fail('Status-Code outside 100-699'));
      reason = startLine.slice(sp1 + 5);
      if (!isReasonPhrase(reason)) note(new Fail('Reason-Phrase contains invalid characters'));
    } else {
      kind = 'request';
      // Request-Line = Method SP Request-URI SP SIP-Version CRLF — exactly two single SPs.
      const sp2 = sp1 < 0 ? -1 : startLine.indexOf(' ', sp1 + 1);
      if (isToken(first)) method = first;
      else note(new Fail('Request-Line: Method is not a token'));
      if (
        sp1 <= 0 ||
        sp2 < 0 ||
        startLine.indexOf(' ', sp2 + 1) >= 0 ||
        sp2 === sp1 + 1 ||
        startLine.includes('\t')
      )
        note(new Fail('Request-Line: expected Method SP Request-URI SP SIP-Version (RFC 3261 §7.1)'));
      else {
        uri = startLine.slice(sp1 + 1, sp2);
        const v = checkVersion(startLine.slice(sp2 + 1));
        if (v === 0) note(new Fail('Request-Line: malformed SIP-Version'));
        else if (v === 2) note(new Fail('unsupported SIP version', 505));
        try {
          validateUri(uri, 'request-uri');
        } catch (e) {
          const msg = (e as Error).message;
          note(new Fail(msg.startsWith('Request-URI') ? msg : `Request-URI: ${msg}`));
        }
      }
    }

    // ---- header fields (§7.3): split lines, unfold, names are tokens
    const fields = new SipHeaders();
    headers = fields;
    let pos = afterStartLine;
    let curName: string | undefined;
    let curValue = '';
    const flush = () => {
      if (curName === undefined) return;
      if (curValue.length > maxLine) note(new Fail(`${curName}: value too long`));
      fields.add(curName, curValue);
      curName = undefined;
    };
    while (pos < headBuf.length) {
      const line = lineAt(pos);
      pos = lineEnd + 2;
      if (line.length > maxLine) {
        note(new Fail('header line too long'));
        continue;
      }
      if (line.includes('\n') || line.includes('\r')) note(new Fail('bare CR or LF in header section'));
      const c0 = line.charCodeAt(0);
      if (c0 === 32 || c0 === 9) {
        // §7.3.1: a continuation line (LWS) folds into the previous field; replaced by a single SP.
        if (curName === undefined) {
          note(new Fail('continuation line without a header field'));
          continue;
        }
        const more = trimWsp(line);
        if (more) curValue = curValue ? `${curValue} ${more}` : more;
        continue;
      }
      flush();
      if (fields.size >= maxHeaders) {
        note(new Fail(`more than ${maxHeaders} header fields`));
        break;
      }
      const colon = line.indexOf(':');
      if (colon < 0) {
        note(new Fail('header line without ":"'));
        continue;
      }
      // HCOLON = *( SP / HTAB ) ":" SWS
      const name = trimWsp(line.slice(0, colon));
      if (!isToken(name) || isWsp(line.charCodeAt(0))) {
        note(new Fail('header name is not a token'));
        continue;
      }
      curName = name;
      curValue = trimWsp(line.slice(colon + 1));
    }
    flush();

    // ---- per-field grammar
    fields.forEach((n, v) => {
      try {
        validateHeader(n, v, method);
      } catch (e) {
        note(new Fail(e instanceof SipParseError ? e.message : `${n}: ${(e as Error).message}`));
      }
    });

    // ---- presence (see module comment)
    const required = opts.strictMandatory ? ['Via', 'CSeq', 'Call-ID', 'From', 'To'] : ['Via', 'CSeq'];
    for (const n of required) if (!headers.has(n)) note(new Fail(`missing ${n} header field`));

    // ---- body (§18.3, §20.14)
    const bodyStart = sep < 0 ? data.length : sep + 4;
    const available = data.length - bodyStart;
    let bodyLen = available;
    const cls = headers.getAll('Content-Length');
    if (cls.length > 0) {
      const max = maxSize;
      const values = cls.map((v) => parseBoundedInt(v, max));
      const clen = values[0];
      if (values.some((v) => v === undefined)) note(new Fail('Content-Length: not a number or too large'));
      else if (transport !== 'udp' && values.some((v) => v !== clen))
        note(new Fail('conflicting Content-Length values'));
      else if (clen !== undefined) {
        if (clen > available) note(new Fail('message body shorter than Content-Length'));
        else if (clen < available && transport !== 'udp')
          note(new Fail('octets after the message body (Content-Length)'));
        bodyLen = Math.min(clen, available);
      }
    } else if (transport !== 'udp') {
      note(new Fail('Content-Length is mandatory on stream transports (RFC 3261 §18.3)'));
    }

    if (firstError !== undefined) {
      const fe: Fail = firstError;
      return fail(fe.message, fe.status);
    }
    // A copy, so a kept body does not keep the datagram; no body shares one empty Buffer.
    const body = bodyLen === 0 ? EMPTY_BODY : Buffer.from(data.subarray(bodyStart, bodyStart + bodyLen));
    if (kind === 'request') {
      return { ok: true, message: { kind, method: method ?? '', uri, version: 'SIP/2.0', headers, body } };
    }
    return { ok: true, message: { kind, status, reason, version: 'SIP/2.0', headers, body } };
  } catch (e) {
    return fail(`internal parser error: ${(e as Error).message}`);
  }
};

export { validateRequestHeaders } from './validate.ts';
