/**
 * Test support for the transaction layer: an in-memory transport that records every message sent,
 * message builders, and a harness that checks after each scenario that no transaction, RFC 2543
 * ACK entry or timer is left behind.
 */
import { afterEach, expect } from 'vitest';
import { createResponse, topVia, viaBranch } from '../../../../sip/message/accessors.ts';
import {
  SipHeaders,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../../../sip/message/types.ts';
import type { TransactionState } from '../../../../sip/transaction/base.ts';
import { FakeClock } from '../../../../sip/transaction/timers.ts';
import {
  type ClientTransaction,
  TransactionLayer,
  type TransactionLayerOptions,
} from '../../../../sip/transaction/transaction-layer.ts';
import type {
  Endpoint,
  InboundMessage,
  SipTransportLayer,
  TransportName,
} from '../../../../sip/transport/types.ts';

export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;

/** The remote peer in these tests. */
export const peer = (transport: TransportName = 'udp'): Endpoint => ({
  transport,
  address: '192.0.2.20',
  port: 5060,
});

export interface Sent {
  message: SipMessage;
  to: Endpoint;
  at: number;
}

/** A SipTransportLayer that records sends and lets tests inject messages and failures. */
export class FakeTransport implements SipTransportLayer {
  readonly sent: Sent[] = [];
  private readonly handlers: ((m: InboundMessage) => void)[] = [];
  /** Decides, per message, whether the send fails synchronously (throw) or asynchronously (reject). */
  failWith: ((m: SipMessage) => 'throw' | 'reject' | undefined) | undefined = undefined;

  constructor(private readonly clock: FakeClock) {}

  send(m: SipMessage, to: Endpoint): Promise<void> | void {
    const mode = this.failWith?.(m);
    if (mode === 'throw') throw new Error('ECONNREFUSED (sync)');
    if (mode === 'reject') return Promise.reject(new Error('ECONNRESET (async)'));
    this.sent.push({ message: m, to, at: this.clock.now() });
    return undefined;
  }

  reliable(t: TransportName): boolean {
    return t === 'tcp';
  }

  local(t: TransportName): Endpoint {
    return { transport: t, address: '192.0.2.1', port: 5060 };
  }

  onMessage(cb: (m: InboundMessage) => void): void {
    this.handlers.push(cb);
  }

  onInvalid(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Delivers a message as if received from `source`. */
  deliver(message: SipMessage, source: Endpoint = peer()): void {
    for (const h of this.handlers) h({ message, source, raw: Buffer.alloc(0) });
  }

  /** Sent requests of a method. */
  requests(method?: string): SipRequest[] {
    return this.sent
      .map((s) => s.message)
      .filter((m): m is SipRequest => m.kind === 'request' && (method === undefined || m.method === method));
  }

  /** Sent responses (optionally of one status). */
  responses(status?: number): SipResponse[] {
    return this.sent
      .map((s) => s.message)
      .filter(
        (m): m is SipResponse => m.kind === 'response' && (status === undefined || m.status === status),
      );
  }

  /** Times (clock ms) at which messages matching `pred` were sent. */
  times(pred: (m: SipMessage) => boolean): number[] {
    return this.sent.filter((s) => pred(s.message)).map((s) => s.at);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export interface Harness {
  clock: FakeClock;
  transport: FakeTransport;
  layer: TransactionLayer;
  errors: Error[];
  dropped: string[];
  /** Requests handed to the TU through onRequest. */
  stray: SipResponse[];
  acks: { ack: SipRequest; matched: boolean }[];
}

const live: Harness[] = [];

/** Creates a harness (FakeClock, FakeTransport, layer with T1/T2/T4 defaults); checked after the test. */
export const harness = (opts: Omit<TransactionLayerOptions, 'clock'> = {}): Harness => {
  const clock = new FakeClock(0);
  const transport = new FakeTransport(clock);
  const errors: Error[] = [];
  const dropped: string[] = [];
  const layer = new TransactionLayer(transport, {
    clock,
    onError: (e) => errors.push(e),
    onDropped: (_m, reason) => dropped.push(reason),
    ...opts,
  });
  const h: Harness = { clock, transport, layer, errors, dropped, stray: [], acks: [] };
  layer.onStrayResponse((r) => h.stray.push(r));
  layer.onAck((ack, _in, tx) => h.acks.push({ ack, matched: tx !== undefined }));
  live.push(h);
  return h;
};

/**
 * After every scenario: let all timers run out, then the transaction table must be empty (every
 * terminated transaction removed), no RFC 2543 ACK entry may remain and no timer may be pending.
 */
export const checkTablesEmptyAfterEach = (): void => {
  afterEach(() => {
    for (const h of live.splice(0)) {
      h.clock.runAll();
      expect(h.layer.counts()).toEqual({ client: 0, server: 0, rfc2543Ack: 0 });
      expect(h.layer.size()).toBe(0);
      expect(h.clock.pending()).toBe(0);
    }
  });
};

let seq = 0;

export interface RequestOptions {
  method?: string;
  uri?: string;
  /** Top Via; null for none. Default: UDP from the peer with a fresh RFC 3261 branch. */
  via?: string | null;
  callId?: string;
  from?: string;
  to?: string;
  cseq?: number;
  cseqMethod?: string;
  routes?: string[];
  headers?: [string, string][];
}

/** A fresh RFC 3261 branch for test requests. */
export const branch = (): string => `z9hG4bKtest${++seq}`;

/** A request as a peer would send it (or, with `via: null`, as a TU hands it to createClientTransaction). */
export const request = (o: RequestOptions = {}): SipRequest => {
  const method = o.method ?? 'INVITE';
  const headers = new SipHeaders();
  const via = o.via === undefined ? `SIP/2.0/UDP 192.0.2.20:5060;branch=${branch()}` : o.via;
  if (via !== null) headers.add('Via', via);
  for (const r of o.routes ?? []) headers.add('Route', r);
  headers.add('Max-Forwards', '70');
  headers.add('From', o.from ?? '"Alice" <sip:alice@example.com>;tag=fromtag1');
  headers.add('To', o.to ?? '<sip:bob@example.com>');
  headers.add('Call-ID', o.callId ?? `call-${++seq}@192.0.2.20`);
  headers.add('CSeq', `${o.cseq ?? 1} ${o.cseqMethod ?? method}`);
  for (const [n, v] of o.headers ?? []) headers.add(n, v);
  return {
    kind: 'request',
    method,
    uri: o.uri ?? 'sip:bob@example.com',
    version: 'SIP/2.0',
    headers,
    body: Buffer.alloc(0),
  };
};

/** A response to `req` (To tag added when given). */
export const reply = (req: SipRequest, status: number, toTag?: string): SipResponse =>
  createResponse(req, status, undefined, toTag === undefined ? {} : { toTag });

/** The ACK a UAC sends for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3): same branch. */
export const ackFor = (
  invite: SipRequest,
  response: SipResponse,
  over: Partial<RequestOptions> = {},
): SipRequest =>
  request({
    method: 'ACK',
    uri: invite.uri,
    via: invite.headers.get('Via') ?? null,
    callId: invite.headers.get('Call-ID') ?? '',
    from: invite.headers.get('From') ?? '',
    to: response.headers.get('To') ?? '',
    cseq: Number.parseInt(invite.headers.get('CSeq') ?? '1', 10),
    ...over,
  });

/** Records TU callbacks of a client transaction. */
export const recorder = () => {
  const rec = {
    responses: [] as number[],
    timeouts: 0,
    transportErrors: [] as Error[],
    terminated: 0,
    states: [] as TransactionState[],
    handlers: {
      onResponse: (r: SipResponse) => {
        rec.responses.push(r.status);
      },
      onTimeout: () => {
        rec.timeouts++;
      },
      onTransportError: (e: Error) => {
        rec.transportErrors.push(e);
      },
      onTerminated: () => {
        rec.terminated++;
      },
      onStateChange: (_tx: unknown, _from: TransactionState, to: TransactionState) => {
        rec.states.push(to);
      },
    },
  };
  return rec;
};

/** Records TU callbacks of a server transaction (attach with `tx.handlers = rec.handlers`). */
export const serverRecorder = () => {
  const rec = {
    timeouts: 0,
    transportErrors: [] as Error[],
    terminated: 0,
    states: [] as TransactionState[],
    handlers: {
      onTimeout: () => {
        rec.timeouts++;
      },
      onTransportError: (e: Error) => {
        rec.transportErrors.push(e);
      },
      onTerminated: () => {
        rec.terminated++;
      },
      onStateChange: (_tx: unknown, _from: TransactionState, to: TransactionState) => {
        rec.states.push(to);
      },
    },
  };
  return rec;
};

/** The client request as it went out (with the Via the layer added). */
export const sentRequest = (tx: ClientTransaction): SipRequest => tx.request;

/** Flushes pending promise callbacks (async transport rejections). */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** The branch of a message's top Via. */
export const branchOf = (m: SipMessage): string | undefined => {
  const v = topVia(m);
  return v === undefined ? undefined : viaBranch(v);
};
