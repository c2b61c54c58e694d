/**
 * Cuts SIP messages out of a byte stream (TCP/TLS) by Content-Length (RFC 3261 §18.3: on stream
 * transports Content-Length is mandatory and gives the body size). CRLFs between messages are
 * skipped (RFC 3261 §7.5); a double CRLF there is an RFC 5626 §3.5.1 keep-alive ping, counted so
 * the transport can answer with a CRLF pong.
 *
 * Data is kept in one growable buffer with read/write offsets, so feeding a large message in tiny
 * chunks costs amortized linear time; the CRLFCRLF search resumes where the previous one stopped.
 */
import { isDigits, parseBoundedInt } from './grammar.ts';

/** Options of SipStreamFramer. */
export interface SipStreamFramerOptions {
  /** Largest accepted message (head + body) in bytes; default 1 MiB. */
  maxMessageSize?: number;
  /** Largest accepted header section in bytes; default 64 KiB (never more than maxMessageSize). */
  maxHeaderSize?: number;
}

/** What one push produced. */
export interface FramerResult {
  /** Complete messages, each a fresh Buffer holding exactly one message (start-line … body). */
  messages: Buffer[];
  /** Set when the stream cannot be framed any more (close the connection); sticky until reset(). */
  error?: string;
  /** Number of CRLFCRLF keep-alive pings seen between messages (RFC 5626 §3.5.1), when any. */
  keepAlives?: number;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/**
 * Finds the Content-Length of a header section (latin1 text, without the final CRLFCRLF).
 * Returns the length, or an error string.
 */
const contentLengthOf = (head: string, max: number): number | string => {
  // Unfold (§7.3.1) just enough to read Content-Length / its compact form "l" (§7.3.3).
  const lines = head.split('\r\n');
  let found: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    let value = line.slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] ?? '')) value += ` ${lines[++i]}`;
    value = value.trim();
    if (!isDigits(value)) return 'Content-Length is not a number';
    const n = parseBoundedInt(value, max);
    if (n === undefined) return `Content-Length ${value.slice(0, 20)} exceeds the maximum message size`;
    if (found !== undefined && found !== n) return 'conflicting Content-Length values';
    found = n;
  }
  return found ?? 'Content-Length missing: it is mandatory on stream transports (RFC 3261 §18.3)';
};

/** Frames SIP messages on a stream transport. One instance per connection. */
export class SipStreamFramer {
  private buf: Buffer = Buffer.allocUnsafe(4096);
  private rd = 0;
  private wr = 0;
  /** Absolute index where the CRLFCRLF search resumes. */
  private scan = 0;
  /** Total size of the current message once its head is known, else -1. */
  private need = -1;
  private crlfRun = 0;
  private failed: string | undefined;
  private readonly maxMessage: number;
  private readonly maxHeader: number;

  constructor(opts: SipStreamFramerOptions = {}) {
    this.maxMessage = opts.maxMessageSize ?? 1024 * 1024;
    this.maxHeader = Math.min(opts.maxHeaderSize ?? 64 * 1024, this.maxMessage);
  }

  /** Bytes buffered for an incomplete message. */
  get buffered(): number {
    return this.wr - this.rd;
  }

  /** Forgets all buffered data and any error. */
  reset(): void {
    this.rd = this.wr = this.scan = 0;
    this.need = -1;
    this.crlfRun = 0;
    this.failed = undefined;
  }

  /** Feeds bytes; returns the messages completed by them (and an error when framing failed). */
  push(chunk: Buffer): FramerResult {
    if (this.failed !== undefined) return { messages: [], error: this.failed };
    this.append(chunk);
    const messages: Buffer[] = [];
    let keepAlives = 0;
    for (;;) {
      if (this.need < 0) {
        // §7.5: CRLFs before a start-line are ignored; four in a row are a keep-alive ping.
        while (this.rd < this.wr && (this.buf[this.rd] === 13 || this.buf[this.rd] === 10)) {
          this.rd++;
          if (++this.crlfRun % 4 === 0) keepAlives++;
        }
        if (this.rd === this.wr) break;
        this.crlfRun = 0;
        const from = Math.max(this.rd, this.scan - 3);
        const idx = this.buf.subarray(0, this.wr).indexOf(CRLF_CRLF, from);
        if (idx < 0) {
          this.scan = this.wr;
          if (this.wr - this.rd > this.maxHeader)
            return this.fail(`header section larger than ${this.maxHeader} bytes`, messages);
          break;
        }
        const headEnd = idx + 4;
        if (headEnd - this.rd > this.maxHeader)
          return this.fail(`header section larger than ${this.maxHeader} bytes`, messages);
        const cl = contentLengthOf(this.buf.toString('latin1', this.rd, idx), this.maxMessage);
        if (typeof cl === 'string') return this.fail(cl, messages);
        this.need = headEnd - this.rd + cl;
        if (this.need > this.maxMessage)
          return this.fail(`message larger than ${this.maxMessage} bytes`, messages);
      }
      if (this.wr - this.rd < this.need) break;
      messages.push(Buffer.from(this.buf.subarray(this.rd, this.rd + this.need)));
      this.rd += this.need;
      this.scan = this.rd;
      this.need = -1;
    }
    if (this.rd === this.wr) this.rd = this.wr = this.scan = 0;
    return keepAlives > 0 ? { messages, keepAlives } : { messages };
  }

  private fail(error: string, messages: Buffer[]): FramerResult {
    this.failed = error;
    this.rd = this.wr = this.scan = 0;
    this.need = -1;
    return { messages, error };
  }

  private append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.wr + chunk.length > this.buf.length && this.rd > 0) {
      this.buf.copyWithin(0, this.rd, this.wr);
      this.wr -= this.rd;
      this.scan = Math.max(0, this.scan - this.rd);
      this.rd = 0;
    }
    if (this.wr + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.wr + chunk.length));
      this.buf.copy(grown, 0, 0, this.wr);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.wr);
    this.wr += chunk.length;
  }
}
