import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse } from '../../../../sip/message/accessors.ts';
import { parseMessage } from '../../../../sip/message/parser.ts';
import type { SipRequest } from '../../../../sip/message/types.ts';
import type { TransportLayer } from '../../../../sip/transport/transport-layer.ts';
import { Inbox, LOOPBACK, optionsRequest, optionsText, Resources, sleep, via, waitFor } from './helpers.ts';

const res = new Resources();
afterEach(() => res.closeAll());

const asRequest = (m: { message: { kind: string } }): SipRequest => {
  if (m.message.kind !== 'request') throw new Error('expected a request');
  return m.message as SipRequest;
};

/** Collects what a raw socket receives. */
const collect = (s: Socket): { data: () => Buffer } => {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return { data: () => Buffer.concat(chunks) };
};

describe('TCP transport (RFC 3261 §18, §18.3 framing)', () => {
  it('carries a 100 KiB message between two layers', async () => {
    const a = await res.layer();
    const b = await res.layer();
    const inB = new Inbox(b);
    const body = Buffer.alloc(100 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = 0x61 + (i % 26);
    await a.send(optionsRequest(via('TCP', `${LOOPBACK}:${a.local('tcp').port}`), { body }), b.local('tcp'));
    const m = await inB.next();
    expect(m.message.body.equals(body)).toBe(true);
    expect(m.source.transport).toBe('tcp');
    expect(m.connectionId).toMatch(/^tcp-/);
    expect(a.connectionCount()).toBe(1);
    expect(b.connectionCount()).toBe(1);
  });

  it('frames many messages delivered in one write', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    const n = 50;
    const parts: string[] = [];
    for (let i = 0; i < n; i++)
      parts.push(optionsText(via('TCP', `${LOOPBACK}:5060`), `body-${i}`, `many-${i}`));
    c.write(`\r\n${parts.join('')}`);
    await inB.next(n);
    expect(inB.messages.map((m) => m.message.headers.get('Call-ID'))).toEqual(
      parts.map((_, i) => `many-${i}`),
    );
    expect(inB.messages.map((m) => m.message.body.toString())).toEqual(parts.map((_, i) => `body-${i}`));
    expect(inB.invalid).toEqual([]);
  });

  it('reassembles a message written one byte at a time', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.setNoDelay(true);
    const text = Buffer.from(optionsText(via('TCP', `${LOOPBACK}:5060`), 'split body', 'bytewise'));
    for (let i = 0; i < text.length; i++) {
      c.write(text.subarray(i, i + 1));
      if (i % 64 === 0) await sleep(0);
    }
    const m = await inB.next();
    expect(m.message.headers.get('Call-ID')).toBe('bytewise');
    expect(m.message.body.toString()).toBe('split body');
    expect(m.raw.equals(text)).toBe(true);
  });

  it('sends a response back over the connection the request came on (§18.2.2)', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    b.onMessage((m) => {
      if (m.message.kind === 'request') void b.send(createResponse(m.message, 200), m.source);
    });
    const c = await res.tcpClient(b.local('tcp').port);
    const got = collect(c);
    // sent-by names a port nobody listens on: only the existing connection can carry the response.
    c.write(optionsText(via('TCP', `${LOOPBACK}:9`), '', 'reuse-1'));
    await waitFor(() => got.data().includes('SIP/2.0 200'), 3000, 'response on the same connection');
    const parsed = parseMessage(got.data(), { transport: 'tcp' });
    expect(parsed.ok && parsed.message.kind === 'response' && parsed.message.status).toBe(200);
    expect((await inB.next()).source).toEqual({ transport: 'tcp', address: LOOPBACK, port: c.localPort });
    expect(b.connectionCount()).toBe(1);
  });

  it('reuses one connection both ways between two layers', async () => {
    const a = await res.layer();
    const b = await res.layer();
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    b.onMessage((m) => {
      if (m.message.kind === 'request') void b.send(createResponse(m.message, 200), m.source);
    });
    for (let i = 0; i < 3; i++) {
      await a.send(optionsRequest(via('TCP', `${LOOPBACK}:${a.local('tcp').port}`)), b.local('tcp'));
    }
    await inA.next(3);
    expect(a.connectionCount()).toBe(1);
    expect(b.connectionCount()).toBe(1);
    expect(new Set(inB.messages.map((m) => m.connectionId)).size).toBe(1);
    expect(new Set(inA.messages.map((m) => m.connectionId)).size).toBe(1);
    expect(inA.messages[0]?.source).toEqual(b.local('tcp'));
  });

  it('falls back to a new connection to received / sent-by when the request connection is gone', async () => {
    const a = await res.layer(); // the "client" listening on its sent-by port
    const b = await res.layer();
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.write(optionsText(via('TCP', `${LOOPBACK}:${a.local('tcp').port}`), '', 'fallback'));
    const req = await inB.next();
    c.destroy();
    await waitFor(() => b.connectionCount() === 0, 3000, 'connection closed');
    await b.send(createResponse(asRequest(req), 200), req.source);
    const resp = await inA.next();
    expect(resp.message.kind === 'response' && resp.message.status).toBe(200);
    expect(resp.message.headers.get('Call-ID')).toBe('fallback');
  });

  it('closes a connection idle for longer than idleTimeoutMs', async () => {
    const b = await res.layer({ idleTimeoutMs: 150 });
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    let closed = false;
    c.on('close', () => {
      closed = true;
    });
    c.write(optionsText(via('TCP', `${LOOPBACK}:5060`)));
    await inB.next();
    expect(b.connectionCount()).toBe(1);
    const t0 = Date.now();
    await waitFor(() => closed && b.connectionCount() === 0, 3000, 'idle close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(inB.errors).toEqual([]); // an idle close is routine, not an error
  });

  /** Sends 64 KiB messages to `port`, one per event-loop turn, until a send fails or `max` were sent. */
  const flood = async (layer: TransportLayer, port: number, max: number) => {
    const to = { transport: 'tcp' as const, address: LOOPBACK, port };
    const msg = optionsRequest(via('TCP', `${LOOPBACK}:${layer.local('tcp').port}`), {
      body: Buffer.alloc(64 * 1024),
    });
    let maxPending = 0;
    let sent = 0;
    let failure: Error | undefined;
    while (sent < max && failure === undefined) {
      try {
        await layer.send(msg, to);
        sent++;
      } catch (e) {
        failure = e as Error;
      }
      for (const c of layer.connections()) maxPending = Math.max(maxPending, c.pendingBytes);
      await new Promise((r) => setImmediate(r));
    }
    return { sent, maxPending, failure };
  };

  it('drops a connection whose peer never reads once the send queue passes the cap', async () => {
    const cap = 256 * 1024;
    const a = await res.layer({ maxQueuedBytes: cap });
    const inA = new Inbox(a);
    const sink = await res.tcpServer((s) => s.pause()); // accepts, never reads
    const { sent, maxPending, failure } = await flood(a, sink.port, 2000);
    expect(failure?.message).toMatch(/peer not reading/);
    // Memory stays bounded: never more than the cap plus one message waiting in user space…
    expect(maxPending).toBeLessThanOrEqual(cap + 70 * 1024);
    // …and the queue only filled once the kernel buffers did (drain-driven writing, not an early drop).
    expect(sent * 64 * 1024).toBeGreaterThan(2 * cap);
    await waitFor(() => a.connectionCount() === 0, 3000, 'connection dropped');
    expect(inA.errors.some((e) => /peer not reading/.test(e.message))).toBe(true);
  });

  it('does not drop a connection whose peer reads, under the same load', async () => {
    const cap = 256 * 1024;
    const a = await res.layer({ maxQueuedBytes: cap });
    const sink = await res.tcpServer((s) => s.resume());
    const { sent, failure } = await flood(a, sink.port, 300);
    expect(failure).toBeUndefined();
    expect(sent).toBe(300);
    expect(a.connectionCount()).toBe(1);
  });

  it('closes the connection on a framing error and sends nothing', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    const got = collect(c);
    let closed = false;
    c.on('close', () => {
      closed = true;
    });
    // No Content-Length: mandatory on stream transports (§18.3), so the stream cannot be framed.
    c.write('OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKx\r\n\r\n');
    await waitFor(() => closed, 3000, 'connection closed');
    expect(got.data().length).toBe(0);
    expect(inB.invalid).toHaveLength(1);
    expect(inB.invalid[0]?.error).toMatch(/framing error/);
    expect(b.connectionCount()).toBe(0);
  });

  it('rejects a message above maxMessageSize as a framing error', async () => {
    const b = await res.layer({ maxMessageSize: 64 * 1024 });
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.write(optionsText(via('TCP', `${LOOPBACK}:5060`), 'x'.repeat(70 * 1024)));
    await waitFor(() => b.connectionCount() === 0, 3000, 'connection closed');
    expect(inB.invalid[0]?.error).toMatch(/framing error/);
    expect(inB.messages).toEqual([]);
  });

  it('keeps the connection for a framed but unparseable message', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.write('GARBAGE LINE\r\nContent-Length: 0\r\n\r\n');
    c.write(optionsText(via('TCP', `${LOOPBACK}:5060`), '', 'after-bad'));
    const m = await inB.next();
    expect(m.message.headers.get('Call-ID')).toBe('after-bad');
    expect(inB.invalid).toHaveLength(1);
    expect(b.connectionCount()).toBe(1);
  });

  it('answers a CRLFCRLF keep-alive ping with a CRLF pong (RFC 5626 §3.5.1)', async () => {
    const b = await res.layer();
    const c = await res.tcpClient(b.local('tcp').port);
    const got = collect(c);
    c.write('\r\n\r\n');
    await waitFor(() => got.data().length > 0, 3000, 'pong');
    expect(got.data().toString()).toBe('\r\n');
    expect(b.connectionCount()).toBe(1);
  });

  it('rejects a send when the connection is refused, without crashing', async () => {
    const a = await res.layer();
    // Port 1 on loopback: privileged and unused, so nothing (not even another test worker) listens there.
    const port = 1;
    await expect(
      a.send(optionsRequest(via('TCP', `${LOOPBACK}:5060`)), { transport: 'tcp', address: LOOPBACK, port }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(a.connectionCount()).toBe(0);
  });

  it('reports a peer reset to onError and forgets the connection', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.write(optionsText(via('TCP', `${LOOPBACK}:5060`)));
    await inB.next();
    c.resetAndDestroy();
    await waitFor(() => b.connectionCount() === 0, 3000, 'connection forgotten');
  });

  it('close() ends every connection promptly', async () => {
    const a = await res.layer();
    const b = await res.layer();
    const inB = new Inbox(b);
    await a.send(optionsRequest(via('TCP', `${LOOPBACK}:5060`)), b.local('tcp'));
    await inB.next();
    const t0 = Date.now();
    await Promise.all([a.close(), b.close()]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(a.connectionCount()).toBe(0);
    expect(b.connectionCount()).toBe(0);
  });
});
