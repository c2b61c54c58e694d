/**
 * The SIP transport layer (RFC 3261 §18) over UDP and TCP: one object that receives from both and
 * sends on either.
 *
 * Receiving a request (§18.2.1, RFC 3581 §4): the top Via is stamped with `received=<source IP>`
 * when its sent-by host differs from the packet's source address, and `rport` (when present) is
 * filled with the source port — with `received` added in that case too. The message handed to
 * `onMessage` carries the stamped Via, so a response built from it (createResponse copies the
 * Vias, §8.2.6) routes by itself.
 *
 * Receiving a response (§18.1.2): delivered with its source. If `acceptResponse` is given, responses
 * whose top Via it refuses ("does not correspond to a value the client transport is configured to
 * insert") are discarded (reported to onInvalid).
 *
 * Sending a response (§18.2.2, RFC 3581 §4): see {@link responseDestination}.
 */
import { formatVia, parseVia, splitHeaderValues, topVia, type Via } from '../message/accessors.ts';
import { serializeMessage } from '../message/serializer.ts';
import type { SipMessage, SipRequest } from '../message/types.ts';
import { asError, ErrorListeners, Listeners } from './listeners.ts';
import { type TcpConnectionInfo, TcpTransport, type TcpTransportOptions } from './tcp.ts';
import type {
  Endpoint,
  InboundMessage,
  InvalidHandler,
  MessageHandler,
  SipTransportLayer,
  TransportErrorHandler,
  TransportName,
} from './types.ts';
import { UdpTransport, type UdpTransportOptions } from './udp.ts';

/** RFC 3261 §19.1.2 / §18.2.2: the port when sent-by has none (5060 for UDP and TCP; TLS would be 5061). */
export const SIP_DEFAULT_PORT = 5060;

export interface TransportLayerOptions {
  /** Address to bind both sockets to (default 127.0.0.1; never the wildcard unless passed in). */
  host?: string;
  /** UDP port (default 0 = ephemeral). */
  udpPort?: number;
  /**
   * TCP port. Default: the port UDP got, so both transports share one port and a Via sent-by port
   * is valid for either (when UDP was ephemeral and that TCP port is taken, both are re-bound).
   */
  tcpPort?: number;
  /** UDP SO_RCVBUF / SO_SNDBUF wishes (default 4 MiB each, tolerated if refused). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Path MTU if known, for `shouldUseTcp` (RFC 3261 §18.1.1). */
  pathMtu?: number;
  /** TCP: close a connection after this long without traffic (default 5 min; 0 = never). */
  idleTimeoutMs?: number;
  /** TCP: per-connection cap on bytes waiting to be written; beyond it the connection is dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  /** TCP: largest message accepted (default 1 MiB). */
  maxMessageSize?: number;
  /** TCP: outbound connection attempt timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** TCP: inbound connection limit (default none). */
  maxConnections?: number;
  /**
   * §18.1.2: return false for a response whose top Via sent-by is not one this element inserts;
   * such a response is discarded (and reported to onInvalid). Default: accept every response.
   */
  acceptResponse?: (topVia: Via, m: InboundMessage) => boolean;
}

/** The transport layer object: the {@link SipTransportLayer} contract plus diagnostics and §18 helpers. */
export interface TransportLayer extends SipTransportLayer {
  onError(cb: TransportErrorHandler): void;
  /** Open TCP connections (inbound + outbound). */
  connectionCount(): number;
  /** Snapshot of the open TCP connections. */
  connections(): TcpConnectionInfo[];
  /** RFC 3261 §18.1.1: should a request of `size` bytes go over TCP instead of UDP? (advisory) */
  shouldUseTcp(size: number): boolean;
  /** The UDP socket buffer sizes in force. */
  udpBufferSizes(): { recv: number | undefined; send: number | undefined };
}

/** Strips the brackets of an IPv6 reference and lower-cases (for address comparison). */
const bareHost = (host: string): string =>
  (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).toLowerCase();

/** `::ffff:a.b.c.d` (an IPv4 peer seen on a dual-stack socket) → `a.b.c.d`. */
const unmapV4 = (address: string): string =>
  address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;

/**
 * A `received` value for `address`. RFC 3261 §25.1 has IPv6address without brackets, but bare IPv6
 * is not a token and our Via parser (like many) needs the IPv6reference form; RFC 5118 §4.5 shows
 * both in use, so the bracketed one is written.
 */
const receivedValue = (address: string): string => (address.includes(':') ? `[${address}]` : address);

const transportOf = (via: Via): TransportName | undefined => {
  const t = via.transport.toUpperCase();
  return t === 'UDP' ? 'udp' : t === 'TCP' ? 'tcp' : undefined;
};

/**
 * Stamps the top Via of a received request (RFC 3261 §18.2.1, RFC 3581 §4), in place:
 * - `received=<source address>` when the sent-by host is a name or an address other than the
 *   source (§18.2.1), and also whenever `rport` is present (RFC 3581 §4: "even if it is identical");
 * - `rport=<source port>` when `rport` is present. RFC 3581 fills only an empty `rport`; one a
 *   client already filled (which it "MUST NOT" do) is overwritten too, and so is a `received` sent
 *   by the client — otherwise a peer could aim our responses at a third party.
 * Only the first via-parm of the first Via field is rewritten; the rest of that field is kept as is.
 * Returns false (and leaves the request untouched) when there is no parseable Via.
 */
export const stampReceived = (request: SipRequest, source: Pick<Endpoint, 'address' | 'port'>): boolean => {
  const top = request.headers.get('Via');
  if (top === undefined) return false;
  const values = splitHeaderValues(top);
  const first = values[0];
  if (first === undefined) return false;
  let via: Via | undefined;
  try {
    via = parseVia(first)[0];
  } catch {
    return false;
  }
  if (via === undefined) return false;
  const src = unmapV4(source.address);
  let changed = false;
  const setParam = (name: string, value: string) => {
    if (via.params.get(name) !== value) {
      via.params.set(name, value);
      changed = true;
    }
  };
  const hasRport = via.params.has('rport');
  if (hasRport || via.params.has('received') || bareHost(via.host) !== src.toLowerCase()) {
    setParam('received', receivedValue(src));
  }
  if (hasRport) setParam('rport', String(source.port));
  if (changed) request.headers.replaceFirst('Via', [formatVia(via), ...values.slice(1)].join(', '));
  return true;
};

/**
 * Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4), from its top Via — a pure function.
 *
 * Reliable (TCP) sent-protocol:
 * - with `requestSource` (the source of the request, a TCP endpoint): that endpoint, i.e. "the
 *   existing connection to the source of the original request" (the layer uses it if still open);
 * - otherwise (connection gone): the `received` address if present, else the sent-by host, at the
 *   sent-by port or 5060. (`rport` is not used here: RFC 3581 §4 applies it to unreliable transports.)
 *
 * Unreliable (UDP) sent-protocol (`requestSource` is not needed):
 * - `maddr` present: that address, sent-by port or 5060;
 * - else `received` present: that address, at `rport` when it has a value (RFC 3581), else the
 *   sent-by port or 5060;
 * - else the sent-by host and port (5060 default). A host name is handed to the socket as is (no
 *   RFC 3263 §5 SRV processing).
 *
 * Returns undefined when the response has no parseable Via or its transport is neither UDP nor TCP.
 */
export const responseDestination = (response: SipMessage, requestSource?: Endpoint): Endpoint | undefined => {
  const via = topVia(response);
  if (via === undefined) return undefined;
  const transport = transportOf(via);
  if (transport === undefined) return undefined;
  const sentByPort = via.port ?? SIP_DEFAULT_PORT;
  const received = via.params.get('received') ?? undefined;
  if (transport === 'tcp') {
    if (requestSource !== undefined && requestSource.transport === 'tcp') return { ...requestSource };
    return { transport, address: bareHost(received ?? via.host), port: sentByPort };
  }
  const maddr = via.params.get('maddr') ?? undefined;
  if (maddr !== undefined) return { transport, address: bareHost(maddr), port: sentByPort };
  const rportText = via.params.get('rport') ?? undefined;
  const rport = rportText !== undefined && /^\d{1,5}$/.test(rportText) ? Number(rportText) : undefined;
  if (received !== undefined) return { transport, address: bareHost(received), port: rport ?? sentByPort };
  return { transport, address: bareHost(via.host), port: rport ?? sentByPort };
};

class Layer implements TransportLayer {
  private readonly messages: Listeners<[InboundMessage]>;
  private readonly invalids: Listeners<Parameters<InvalidHandler>>;
  private readonly errors = new ErrorListeners();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly udp: UdpTransport,
    private readonly tcp: TcpTransport,
    private readonly acceptResponse: TransportLayerOptions['acceptResponse'],
  ) {
    // A handler that throws is reported to onError with the peer concerned; delivery goes on.
    this.messages = new Listeners((e, [m]) =>
      this.errors.emit(e, { transport: m.source.transport, remote: m.source }),
    );
    this.invalids = new Listeners((e, [, , source]) =>
      this.errors.emit(e, { transport: source.transport, remote: source }),
    );
    for (const t of [udp, tcp]) {
      t.onMessage((m) => this.inbound(m));
      t.onInvalid((raw, error, source) => this.invalids.emit(raw, error, source));
      t.onError((e, ctx) => this.errors.emit(e, ctx));
    }
  }

  private inbound(m: InboundMessage): void {
    if (m.message.kind === 'request') {
      if (!stampReceived(m.message, m.source)) {
        this.invalids.emit(m.raw, 'request without a parseable Via (RFC 3261 §8.1.1.7)', m.source);
        return;
      }
    } else if (this.acceptResponse !== undefined) {
      const via = topVia(m.message);
      if (via === undefined || !this.acceptResponse(via, m)) {
        this.invalids.emit(
          m.raw,
          'response whose top Via is not ours, discarded (RFC 3261 §18.1.2)',
          m.source,
        );
        return;
      }
    }
    this.messages.emit(m);
  }

  async send(m: SipMessage, to: Endpoint): Promise<void> {
    if (this.closing) throw new Error('transport layer closed');
    const buf = serializeMessage(m);
    if (m.kind === 'request') {
      if (to.transport === 'tcp') return this.tcp.sendRaw(buf, to);
      return this.udp.sendRaw(buf, to.address, to.port);
    }
    const dest = responseDestination(m, to);
    if (dest === undefined)
      throw new Error('response has no top Via with a UDP or TCP sent-protocol (RFC 3261 §18.2.2)');
    if (dest.transport === 'udp') return this.udp.sendRaw(buf, dest.address, dest.port);
    // §18.2.2: the existing connection if still open, else a new one to received / sent-by.
    if (this.tcp.hasConnection(dest)) return this.tcp.sendRaw(buf, dest);
    const fallback = responseDestination(m) ?? dest;
    return this.tcp.sendRaw(buf, fallback);
  }

  reliable(t: TransportName): boolean {
    return t === 'tcp';
  }

  local(t: TransportName): Endpoint {
    return t === 'tcp' ? this.tcp.local() : this.udp.local();
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

  connectionCount(): number {
    return this.tcp.connectionCount();
  }

  connections(): TcpConnectionInfo[] {
    return this.tcp.connections();
  }

  shouldUseTcp(size: number): boolean {
    return this.udp.shouldUseTcp(size);
  }

  udpBufferSizes(): { recv: number | undefined; send: number | undefined } {
    return this.udp.bufferSizes;
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([this.udp.close(), this.tcp.close()]).then(() => undefined);
    return this.closing;
  }
}

const isAddrInUse = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';

/**
 * Binds UDP and TCP on `host` (default 127.0.0.1) and returns the transport layer. Ports 0 mean
 * ephemeral; `local(t)` reports the real ones. Rejects if a port is taken.
 */
export const createTransportLayer = async (opts: TransportLayerOptions = {}): Promise<TransportLayer> => {
  const host = opts.host ?? '127.0.0.1';
  const udpOpts: UdpTransportOptions = { host, port: opts.udpPort ?? 0 };
  if (opts.recvBufferSize !== undefined) udpOpts.recvBufferSize = opts.recvBufferSize;
  if (opts.sendBufferSize !== undefined) udpOpts.sendBufferSize = opts.sendBufferSize;
  if (opts.pathMtu !== undefined) udpOpts.pathMtu = opts.pathMtu;
  const tcpOpts: TcpTransportOptions = { host };
  if (opts.idleTimeoutMs !== undefined) tcpOpts.idleTimeoutMs = opts.idleTimeoutMs;
  if (opts.maxQueuedBytes !== undefined) tcpOpts.maxQueuedBytes = opts.maxQueuedBytes;
  if (opts.maxMessageSize !== undefined) tcpOpts.maxMessageSize = opts.maxMessageSize;
  if (opts.connectTimeoutMs !== undefined) tcpOpts.connectTimeoutMs = opts.connectTimeoutMs;
  if (opts.maxConnections !== undefined) tcpOpts.maxConnections = opts.maxConnections;

  const sharePort = opts.tcpPort === undefined;
  const attempts = sharePort && (opts.udpPort ?? 0) === 0 ? 10 : 1;
  for (let i = 1; ; i++) {
    const udp = await UdpTransport.open(udpOpts);
    try {
      const tcp = await TcpTransport.listen({
        ...tcpOpts,
        port: sharePort ? udp.local().port : opts.tcpPort,
      });
      return new Layer(udp, tcp, opts.acceptResponse);
    } catch (e) {
      await udp.close();
      if (i >= attempts || !isAddrInUse(e)) throw asError(e);
    }
  }
};
