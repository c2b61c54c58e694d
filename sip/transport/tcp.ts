/**
 * SIP over TCP (RFC 3261 §18): a listening server plus outbound connections, all kept in one table
 * keyed by the remote `address:port`, so that
 * - a response goes back over the connection its request arrived on (§18.2.2), and
 * - a request to a peer reuses an open connection to it (§18.1.1, "connection reuse").
 *
 * Stream framing is Content-Length based (§18.3) via `SipStreamFramer`; a CRLFCRLF keep-alive ping
 * is answered with a CRLF pong (RFC 5626 §3.5.1). Data that cannot be framed (no/garbled
 * Content-Length, a message above the size limit) closes the connection: SIP has no way to answer
 * bytes whose message boundaries are unknown, so nothing is sent (`onInvalid` gets the chunk that
 * revealed the error). A framed message that does not parse goes to
 * `onInvalid` and the connection stays up (the next message is still delimited).
 *
 * Every connection has an idle timeout (default 5 minutes without traffic in either direction),
 * Nagle off (`setNoDelay`), and a send queue that respects `write()` returning false: messages wait
 * for 'drain', and a connection whose queued bytes would exceed `maxQueuedBytes` (a peer that does
 * not read) is dropped rather than growing memory without bound.
 *
 * No socket error, reset or timeout escapes as an exception: they go to the `onError` listeners or
 * reject the `send()` they belong to.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { parseMessage } from '../message/parser.ts';
import { serializeMessage } from '../message/serializer.ts';
import { SipStreamFramer } from '../message/stream-framer.ts';
import type { SipMessage } from '../message/types.ts';
import { asError, ErrorListeners, Listeners } from './listeners.ts';
import {
  type Endpoint,
  endpointKey,
  type InboundMessage,
  type InvalidHandler,
  type MessageHandler,
  type TransportErrorHandler,
} from './types.ts';

export const TCP_DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
export const TCP_DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
export const TCP_DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
export const TCP_DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface TcpTransportOptions {
  /** Address to listen on and to originate connections from (default 127.0.0.1). */
  host?: string;
  /** Listening port (default 0: ephemeral, see `local()`). */
  port?: number;
  /** Close a connection after this long without traffic in either direction (default 5 min; 0 = never). */
  idleTimeoutMs?: number;
  /** Per-connection cap on bytes waiting to be written; beyond it the connection is dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  /** Largest message accepted from a peer; a bigger one is a framing error (default 1 MiB). */
  maxMessageSize?: number;
  /** Give up an outbound connection attempt after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Refuse inbound connections beyond this many (default: no limit). */
  maxConnections?: number;
}

/** What `connections()` reports about one connection. */
export interface TcpConnectionInfo {
  id: string;
  remote: Endpoint;
  direction: 'inbound' | 'outbound';
  /** Bytes accepted by `send()` and not yet handed to the kernel (ours + Node's socket buffer). */
  pendingBytes: number;
  connected: boolean;
}

let nextConnectionId = 1;
const CRLF = Buffer.from('\r\n');

/** One TCP connection: framing on the way in, a bounded queue on the way out. */
class TcpConnection {
  readonly id = `tcp-${nextConnectionId++}`;
  readonly key: string;
  /** Resolves when connected (at once for inbound), rejects if the connection attempt fails. */
  readonly ready: Promise<void>;
  private readonly framer: SipStreamFramer;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private blocked = false;
  private connected: boolean;
  closed = false;

  constructor(
    readonly socket: Socket,
    readonly remote: Endpoint,
    readonly direction: 'inbound' | 'outbound',
    private readonly owner: TcpTransport,
    private readonly opts: Required<Omit<TcpTransportOptions, 'host' | 'port' | 'maxConnections'>>,
  ) {
    this.key = endpointKey(remote.address, remote.port);
    this.connected = direction === 'inbound';
    this.framer = new SipStreamFramer({ maxMessageSize: opts.maxMessageSize });
    socket.setNoDelay(true);

    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    this.ready = this.connected
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          settle = { resolve, reject };
        });
    // Nobody may be awaiting `ready` (a connection opened by a send that already settled): never unhandled.
    this.ready.catch(() => {});

    if (!this.connected) {
      socket.setTimeout(opts.connectTimeoutMs);
      socket.once('connect', () => {
        this.connected = true;
        socket.setTimeout(opts.idleTimeoutMs);
        settle?.resolve();
      });
    } else {
      socket.setTimeout(opts.idleTimeoutMs);
    }

    socket.on('timeout', () => {
      // socket.setTimeout fires after that long without reads or writes (§18: connection management is local policy).
      // Idle close is routine, not an error; a connect timeout rejects the send() that opened it.
      if (!this.connected)
        settle?.reject(new Error(`connect to ${this.key} timed out after ${opts.connectTimeoutMs} ms`));
      this.destroy();
    });
    socket.on('drain', () => this.flush());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => {
      // A failed connection attempt belongs to the send() awaiting `ready`; a later error is reported.
      if (!this.connected) settle?.reject(e);
      else if (!this.closed) owner.reportError(e, this);
      this.destroy();
    });
    socket.on('close', () => {
      if (!this.connected)
        settle?.reject(new Error(`connection to ${this.key} closed before it was established`));
      this.closed = true;
      this.queue.length = 0;
      this.queuedBytes = 0;
      owner.forget(this);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const { messages, error, keepAlives } = this.framer.push(chunk);
    for (const raw of messages) {
      if (this.closed) return;
      this.owner.deliver(raw, this);
    }
    if (this.closed) return;
    if (error !== undefined) {
      // §18.3: without a usable Content-Length the stream cannot be resynchronized; drop it, answer nothing.
      this.owner.reportInvalid(chunk, `framing error: ${error}`, this);
      this.destroy(new Error(`framing error, connection closed: ${error}`), true);
      return;
    }
    // RFC 5626 §3.5.1 (and §4.4.1): a CRLFCRLF ping is answered with a CRLF pong (one per chunk at most).
    if (keepAlives !== undefined && keepAlives > 0) {
      try {
        this.write(CRLF);
      } catch {
        // queue full: write() already dropped the connection
      }
    }
  }

  /** Bytes accepted and not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  /**
   * Queues `buf` for writing. Throws when the connection is closed, or when accepting `buf` would
   * take the pending bytes past `maxQueuedBytes` — in which case the connection is dropped (the
   * peer is not reading; keeping it would let it grow our memory without bound).
   */
  write(buf: Buffer): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) {
      throw new Error(`connection ${this.key} is closed`);
    }
    const pending = this.pendingBytes;
    if (pending > 0 && pending + buf.length > this.opts.maxQueuedBytes) {
      const err = new Error(
        `send queue to ${this.key} over ${this.opts.maxQueuedBytes} bytes (peer not reading), connection dropped`,
      );
      this.destroy(err, true);
      throw err;
    }
    if (this.blocked) {
      this.queue.push(buf);
      this.queuedBytes += buf.length;
      return;
    }
    if (!this.socket.write(buf)) this.blocked = true;
  }

  /** 'drain': hand queued messages to the socket until it pushes back again. */
  private flush(): void {
    this.blocked = false;
    while (!this.blocked && this.queue.length > 0 && !this.closed) {
      const buf = this.queue.shift();
      if (buf === undefined) break;
      this.queuedBytes -= buf.length;
      if (!this.socket.write(buf)) this.blocked = true;
    }
  }

  /** Closes the connection now (unsent data is discarded). `report` sends `reason` to onError. */
  destroy(reason?: Error, report = false): void {
    if (this.closed) return;
    this.closed = true;
    if (reason && report) this.owner.reportError(reason, this);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.socket.destroy();
    this.owner.forget(this);
  }

  info(): TcpConnectionInfo {
    return {
      id: this.id,
      remote: { ...this.remote },
      direction: this.direction,
      pendingBytes: this.pendingBytes,
      connected: this.connected && !this.closed,
    };
  }
}

export class TcpTransport {
  private readonly messages: Listeners<[InboundMessage]>;
  private readonly invalids: Listeners<Parameters<InvalidHandler>>;
  private readonly errors = new ErrorListeners();
  /** Connection reuse table: remote `address:port` → connection (the latest one when several exist). */
  private readonly byKey = new Map<string, TcpConnection>();
  /** Every open connection (for counting and closing). */
  private readonly all = new Set<TcpConnection>();
  private readonly endpoint: Endpoint;
  private closing: Promise<void> | undefined;
  private readonly connOpts: Required<Omit<TcpTransportOptions, 'host' | 'port' | 'maxConnections'>>;

  private constructor(
    private readonly server: Server,
    private readonly host: string,
    opts: TcpTransportOptions,
  ) {
    // A handler that throws is reported with the peer concerned.
    this.messages = new Listeners((e, [m]) => this.errors.emit(e, { transport: 'tcp', remote: m.source }));
    this.invalids = new Listeners((e, [, , source]) =>
      this.errors.emit(e, { transport: 'tcp', remote: source }),
    );
    this.connOpts = {
      idleTimeoutMs: opts.idleTimeoutMs ?? TCP_DEFAULT_IDLE_TIMEOUT_MS,
      maxQueuedBytes: opts.maxQueuedBytes ?? TCP_DEFAULT_MAX_QUEUED_BYTES,
      maxMessageSize: opts.maxMessageSize ?? TCP_DEFAULT_MAX_MESSAGE_SIZE,
      connectTimeoutMs: opts.connectTimeoutMs ?? TCP_DEFAULT_CONNECT_TIMEOUT_MS,
    };
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('TCP server has no address');
    this.endpoint = { transport: 'tcp', address: a.address, port: a.port };
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (e) => this.errors.emit(e, { transport: 'tcp' }));
  }

  /** Starts listening on `host:port` (exclusively: no sharing of the port with another process/worker). */
  static async listen(opts: TcpTransportOptions = {}): Promise<TcpTransport> {
    const host = opts.host ?? '127.0.0.1';
    const server = createServer({ noDelay: true });
    if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once('error', onError);
      server.listen({ host, port: opts.port ?? 0, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new TcpTransport(server, host, opts);
  }

  onMessage(cb: MessageHandler): void {
    this.messages.add(cb);
  }

  onInvalid(cb: InvalidHandler): void {
    this.invalids.add(cb);
  }

  onError(cb: TransportErrorHandler): void {
    this.errors.add(cb);
  }

  /** The listening address and the real port. */
  local(): Endpoint {
    return { ...this.endpoint };
  }

  /** Open connections, inbound and outbound. */
  connectionCount(): number {
    return this.all.size;
  }

  /** A snapshot of the open connections. */
  connections(): TcpConnectionInfo[] {
    return [...this.all].map((c) => c.info());
  }

  /** Is a connection to `to.address:to.port` open (the §18.2.2 "existing connection")? */
  hasConnection(to: Pick<Endpoint, 'address' | 'port'>): boolean {
    const c = this.byKey.get(endpointKey(to.address, to.port));
    return c !== undefined && !c.closed;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (address === undefined || port === undefined) {
      // Already reset by the peer before we saw it.
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.add(new TcpConnection(socket, { transport: 'tcp', address, port }, 'inbound', this, this.connOpts));
  }

  private add(c: TcpConnection): void {
    this.all.add(c);
    this.byKey.set(c.key, c);
  }

  /** @internal Called by a connection when it closes. */
  forget(c: TcpConnection): void {
    this.all.delete(c);
    if (this.byKey.get(c.key) === c) this.byKey.delete(c.key);
  }

  /** @internal A framed message from connection `c`: parse and deliver, or report as invalid. */
  deliver(raw: Buffer, c: TcpConnection): void {
    let result: ReturnType<typeof parseMessage>;
    try {
      result = parseMessage(raw, { transport: 'tcp', maxMessageSize: this.connOpts.maxMessageSize });
    } catch (e) {
      this.invalids.emit(raw, `parser failure: ${asError(e).message}`, { ...c.remote });
      return;
    }
    if (!result.ok) {
      this.invalids.emit(raw, result.error, { ...c.remote });
      return;
    }
    this.messages.emit({ message: result.message, source: { ...c.remote }, raw, connectionId: c.id });
  }

  /** @internal */
  reportInvalid(raw: Buffer, error: string, c: TcpConnection): void {
    this.invalids.emit(raw, error, { ...c.remote });
  }

  /** @internal */
  reportError(e: Error, c: TcpConnection): void {
    this.errors.emit(e, { transport: 'tcp', remote: { ...c.remote }, connectionId: c.id });
  }

  /** Serializes `m` and sends it to `to` (see {@link sendRaw}). */
  send(m: SipMessage, to: Pick<Endpoint, 'address' | 'port'>): Promise<void> {
    let buf: Buffer;
    try {
      buf = serializeMessage(m);
    } catch (e) {
      return Promise.reject(asError(e));
    }
    return this.sendRaw(buf, to);
  }

  /**
   * Sends bytes over the open connection to `to.address:to.port`, or opens one (from our host, so
   * we never originate from another address). Resolves once the bytes are written or queued;
   * rejects if the connection cannot be established, is closed, or its queue is full.
   */
  async sendRaw(buf: Buffer, to: Pick<Endpoint, 'address' | 'port'>): Promise<void> {
    if (this.closing) throw new Error('TCP transport closed');
    let c = this.byKey.get(endpointKey(to.address, to.port));
    if (c === undefined || c.closed) c = this.open(to);
    // Writing before 'connect' is fine: Node buffers it, and our cap accounting includes it.
    c.write(buf);
    await c.ready;
  }

  private open(to: Pick<Endpoint, 'address' | 'port'>): TcpConnection {
    const socket = connect({ host: to.address, port: to.port, localAddress: this.host, noDelay: true });
    const c = new TcpConnection(
      socket,
      { transport: 'tcp', address: to.address, port: to.port },
      'outbound',
      this,
      this.connOpts,
    );
    this.add(c);
    return c;
  }

  /** Closes the server and every connection at once (queued data is discarded); idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const c of [...this.all]) c.destroy();
    });
    return this.closing;
  }
}
