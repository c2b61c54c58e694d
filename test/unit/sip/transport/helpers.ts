/** Shared helpers for the transport tests: message builders, waiting, and cleanup of everything opened. */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SipHeaders, type SipRequest } from '../../../../sip/message/types.ts';
import {
  createTransportLayer,
  type TransportLayer,
  type TransportLayerOptions,
} from '../../../../sip/transport/transport-layer.ts';
import type { InboundMessage } from '../../../../sip/transport/types.ts';

export const LOOPBACK = '127.0.0.1';

let branchSeq = 0;

/** An OPTIONS request object with the given top Via (sent-by) and optional body. */
export const optionsRequest = (
  via: string,
  opts: { body?: Buffer; callId?: string; extraVia?: string } = {},
): SipRequest => {
  const headers = new SipHeaders([
    ['Via', via],
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@127.0.0.1>;tag=a1'],
    ['To', '<sip:bob@127.0.0.1>'],
    ['Call-ID', opts.callId ?? `call-${++branchSeq}@127.0.0.1`],
    ['CSeq', '1 OPTIONS'],
  ]);
  if (opts.extraVia !== undefined) headers.add('Via', opts.extraVia);
  if (opts.body !== undefined) headers.add('Content-Type', 'text/plain');
  return {
    kind: 'request',
    method: 'OPTIONS',
    uri: 'sip:bob@127.0.0.1',
    version: 'SIP/2.0',
    headers,
    body: opts.body ?? Buffer.alloc(0),
  };
};

/** A Via value for `transport` with a fresh branch. */
export const via = (transport: 'UDP' | 'TCP', sentBy: string, params = ''): string =>
  `SIP/2.0/${transport} ${sentBy};branch=z9hG4bK-${++branchSeq}${params}`;

/** Raw OPTIONS text, for writing straight to a socket. */
export const optionsText = (viaValue: string, body = '', callId = `raw-${++branchSeq}`): string =>
  `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: ${viaValue}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n` +
  `To: <sip:bob@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Polls `cond` until true (or fails after `timeoutMs`). */
export const waitFor = async (cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects what a layer delivers. */
export class Inbox {
  readonly messages: InboundMessage[] = [];
  readonly invalid: { raw: Buffer; error: string; source: { address: string; port: number } }[] = [];
  readonly errors: Error[] = [];

  constructor(layer: TransportLayer) {
    layer.onMessage((m) => this.messages.push(m));
    layer.onInvalid((raw, error, source) => this.invalid.push({ raw, error, source }));
    layer.onError((e) => this.errors.push(e));
  }

  async next(count = 1, timeoutMs = 3000): Promise<InboundMessage> {
    await waitFor(() => this.messages.length >= count, timeoutMs, `${count} message(s)`);
    const m = this.messages[count - 1];
    if (m === undefined) throw new Error('unreachable');
    return m;
  }
}

/** Tracks everything a test opens so afterEach can close it. */
export class Resources {
  private readonly closers: (() => Promise<void> | void)[] = [];

  async layer(opts: TransportLayerOptions = {}): Promise<TransportLayer> {
    const l = await createTransportLayer({ host: LOOPBACK, udpPort: 0, ...opts });
    this.closers.push(() => l.close());
    return l;
  }

  udpSocket(): Promise<UdpSocket> {
    const s = createSocket('udp4');
    this.closers.push(() => new Promise<void>((r) => s.close(() => r())));
    return new Promise((resolve) => s.bind(0, LOOPBACK, () => resolve(s)));
  }

  tcpClient(port: number): Promise<Socket> {
    const s = connect({ host: LOOPBACK, port, localAddress: LOOPBACK });
    s.on('error', () => {});
    this.closers.push(() => void s.destroy());
    return new Promise((resolve, reject) => {
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  /** A TCP server on loopback; `onSocket` sees each accepted socket. */
  async tcpServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      onSocket(s);
    });
    this.closers.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    await new Promise<void>((r) => server.listen(0, LOOPBACK, () => r()));
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('no address');
    return { server, port: a.port };
  }

  async closeAll(): Promise<void> {
    const list = this.closers.splice(0).reverse();
    await Promise.all(list.map((c) => c()));
  }
}
