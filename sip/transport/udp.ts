/**
 * SIP over UDP (RFC 3261 §18): one socket bound to the given address, used both to receive and to
 * send, so responses (and our requests) leave from the listening port — which is what a peer's
 * RFC 3581 `rport` / §18.2.2 processing expects.
 *
 * Each datagram is one message (§18.3: on UDP the datagram bounds the message; Content-Length,
 * when present, only trims). Every datagram is handed to `parseMessage`; anything it refuses goes
 * to the `onInvalid` listeners. Nothing a peer sends can throw out of the receive path.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseMessage } from '../message/parser.ts';
import { serializeMessage } from '../message/serializer.ts';
import type { SipMessage } from '../message/types.ts';
import { asError, ErrorListeners, Listeners } from './listeners.ts';
import type {
  Endpoint,
  InboundMessage,
  InvalidHandler,
  MessageHandler,
  TransportErrorHandler,
} from './types.ts';

/** RFC 3261 §18.1.1: the size limit assumed when the path MTU is unknown. */
export const UDP_UNKNOWN_MTU_LIMIT = 1300;
/** RFC 3261 §18.1.1: a request "within 200 bytes of the path MTU" should use a congestion-controlled transport. */
export const UDP_MTU_MARGIN = 200;
/** Largest UDP payload over IPv4 (65535 − 20 IP − 8 UDP); bigger sends fail with EMSGSIZE. */
export const UDP_MAX_PAYLOAD = 65_507;
/** Default socket buffer sizes: 4 MiB absorbs bursts (the kernel caps them at net.core.[rw]mem_max). */
export const UDP_DEFAULT_BUFFER_SIZE = 4 * 1024 * 1024;

/**
 * RFC 3261 §18.1.1: should a request of `size` bytes be sent over TCP rather than UDP? True when
 * it is within {@link UDP_MTU_MARGIN} bytes of `pathMtu`, or, with the MTU unknown, larger than
 * {@link UDP_UNKNOWN_MTU_LIMIT}. Advisory: the caller decides (it must then also put TCP in the Via).
 */
export const shouldUseTcp = (size: number, pathMtu?: number): boolean =>
  pathMtu === undefined ? size > UDP_UNKNOWN_MTU_LIMIT : size > pathMtu - UDP_MTU_MARGIN;

export interface UdpTransportOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port to bind (default 0: an ephemeral port, see `local()`). */
  port?: number;
  /** SO_RCVBUF wish in bytes (default 4 MiB; failure to set it is tolerated). */
  recvBufferSize?: number;
  /** SO_SNDBUF wish in bytes (default 4 MiB; failure to set it is tolerated). */
  sendBufferSize?: number;
  /** Path MTU if known, for {@link UdpTransport.shouldUseTcp}. */
  pathMtu?: number;
}

/** A datagram made only of CR/LF (RFC 5626-style keep-alive ping) or empty: not a message, not an error. */
const isKeepAlive = (buf: Buffer): boolean => {
  for (const b of buf) if (b !== 0x0d && b !== 0x0a) return false;
  return true;
};

export class UdpTransport {
  private readonly messages: Listeners<[InboundMessage]>;
  private readonly invalids: Listeners<Parameters<InvalidHandler>>;
  private readonly errors = new ErrorListeners();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly endpoint: Endpoint;
  private sizes: { recv: number | undefined; send: number | undefined } = {
    recv: undefined,
    send: undefined,
  };

  private constructor(
    private readonly socket: Socket,
    private readonly pathMtu: number | undefined,
    bufferSizes: { recv?: number; send?: number },
  ) {
    // A handler that throws is reported with the peer concerned.
    this.messages = new Listeners((e, [m]) => this.errors.emit(e, { transport: 'udp', remote: m.source }));
    this.invalids = new Listeners((e, [, , source]) =>
      this.errors.emit(e, { transport: 'udp', remote: source }),
    );
    const a = socket.address();
    this.endpoint = { transport: 'udp', address: a.address, port: a.port };
    this.applyBufferSizes(bufferSizes);
    socket.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
    // An 'error' listener is what keeps a socket error from becoming an uncaught exception.
    socket.on('error', (e) => this.errors.emit(e, { transport: 'udp' }));
  }

  /** Binds a UDP socket (never with SO_REUSEADDR: a second server on the port must fail, not share it). */
  static async open(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const host = opts.host ?? '127.0.0.1';
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        socket.close();
        reject(e);
      };
      socket.once('error', onError);
      socket.bind({ address: host, port: opts.port ?? 0, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    return new UdpTransport(socket, opts.pathMtu, {
      recv: opts.recvBufferSize ?? UDP_DEFAULT_BUFFER_SIZE,
      send: opts.sendBufferSize ?? UDP_DEFAULT_BUFFER_SIZE,
    });
  }

  /** Buffer sizes can only be set on a bound socket; a refusal (e.g. above rmem_max without privilege) is not fatal. */
  private applyBufferSizes(wish: { recv?: number; send?: number }): void {
    try {
      if (wish.recv !== undefined) this.socket.setRecvBufferSize(wish.recv);
    } catch {
      // tolerated: the kernel default stays
    }
    try {
      if (wish.send !== undefined) this.socket.setSendBufferSize(wish.send);
    } catch {
      // tolerated
    }
    try {
      this.sizes = { recv: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
    } catch {
      // unknown
    }
  }

  /** Socket buffer sizes actually in force (Linux reports twice the wish, capped by net.core.[rw]mem_max). */
  get bufferSizes(): { recv: number | undefined; send: number | undefined } {
    return { ...this.sizes };
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

  /** The bound address and the real port (also when bound to port 0). */
  local(): Endpoint {
    return { ...this.endpoint };
  }

  /** RFC 3261 §18.1.1 advice for a request of `size` bytes (see {@link shouldUseTcp}). */
  shouldUseTcp(size: number): boolean {
    return shouldUseTcp(size, this.pathMtu);
  }

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    const source: Endpoint = { transport: 'udp', address: rinfo.address, port: rinfo.port };
    if (isKeepAlive(buf)) return;
    let result: ReturnType<typeof parseMessage>;
    try {
      result = parseMessage(buf, { transport: 'udp' });
    } catch (e) {
      // The parser's contract is to return errors, but a peer must never be able to crash us.
      this.invalids.emit(buf, `parser failure: ${asError(e).message}`, source);
      return;
    }
    if (!result.ok) {
      this.invalids.emit(buf, result.error, source);
      return;
    }
    this.messages.emit({ message: result.message, source, raw: buf });
  }

  /** Serializes and sends `m` to `to.address:to.port` from the listening socket. */
  send(m: SipMessage, to: Pick<Endpoint, 'address' | 'port'>): Promise<void> {
    let buf: Buffer;
    try {
      buf = serializeMessage(m);
    } catch (e) {
      return Promise.reject(asError(e));
    }
    return this.sendRaw(buf, to.address, to.port);
  }

  /** Sends one datagram. Rejects (never throws) when closed, too large, or refused by the socket. */
  sendRaw(buf: Buffer, address: string, port: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('UDP transport closed'));
    if (buf.length > UDP_MAX_PAYLOAD) {
      return Promise.reject(
        new Error(
          `message of ${buf.length} bytes exceeds the UDP maximum (${UDP_MAX_PAYLOAD}); use TCP (RFC 3261 §18.1.1)`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      try {
        this.socket.send(buf, port, address, (err) => (err ? reject(err) : resolve()));
      } catch (e) {
        reject(asError(e));
      }
    });
  }

  /** Closes the socket; idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.closing;
  }
}
