import { afterEach, describe, expect, it } from 'vitest';
import { createResponse, topVia } from '../../../../sip/message/accessors.ts';
import { serializeMessage } from '../../../../sip/message/serializer.ts';
import { shouldUseTcp, UDP_MAX_PAYLOAD, UdpTransport } from '../../../../sip/transport/udp.ts';
import { Inbox, LOOPBACK, optionsRequest, optionsText, Resources, sleep, via, waitFor } from './helpers.ts';

const res = new Resources();
afterEach(() => res.closeAll());

describe('UDP transport (RFC 3261 §18)', () => {
  it('binds to loopback only and reports the real ephemeral ports', async () => {
    const a = await res.layer();
    const udp = a.local('udp');
    const tcp = a.local('tcp');
    expect(udp).toMatchObject({ transport: 'udp', address: LOOPBACK });
    expect(udp.port).toBeGreaterThan(0);
    expect(tcp).toMatchObject({ transport: 'tcp', address: LOOPBACK });
    // tcpPort omitted: TCP shares the UDP port so one Via sent-by port serves both.
    expect(tcp.port).toBe(udp.port);
    expect(a.reliable('udp')).toBe(false);
    expect(a.reliable('tcp')).toBe(true);
  });

  it('a second bind on the same UDP port fails (no SO_REUSEADDR)', async () => {
    const a = await res.layer();
    await expect(UdpTransport.open({ host: LOOPBACK, port: a.local('udp').port })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });

  it('sets large socket buffers after bind (tolerating the kernel cap)', async () => {
    const a = await res.layer();
    const sizes = a.udpBufferSizes();
    expect(sizes.recv).toBeGreaterThan(200_000);
    expect(sizes.send).toBeGreaterThan(200_000);
  });

  it('carries a request and its response between two layers over loopback, from the listening port', async () => {
    const a = await res.layer();
    const b = await res.layer();
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    const aUdp = a.local('udp');
    await a.send(optionsRequest(via('UDP', `${LOOPBACK}:${aUdp.port}`)), b.local('udp'));
    const req = await inB.next();
    expect(req.message.kind).toBe('request');
    // Sent from the listening socket: the source port is A's SIP port.
    expect(req.source).toEqual({ transport: 'udp', address: LOOPBACK, port: aUdp.port });
    expect(req.connectionId).toBeUndefined();
    expect(req.raw.toString('latin1')).toContain('OPTIONS sip:bob@127.0.0.1 SIP/2.0');
    if (req.message.kind !== 'request') throw new Error('expected a request');

    await b.send(createResponse(req.message, 200), req.source);
    const resp = await inA.next();
    expect(resp.message.kind).toBe('response');
    if (resp.message.kind !== 'response') throw new Error('expected a response');
    expect(resp.message.status).toBe(200);
    expect(resp.source).toEqual({ transport: 'udp', address: LOOPBACK, port: b.local('udp').port });
    expect(inA.invalid).toEqual([]);
    expect(inB.invalid).toEqual([]);
  });

  it('sends an invalid datagram to onInvalid and keeps working', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const raw = await res.udpSocket();
    const to = b.local('udp');
    const junk = [
      Buffer.from('INVITE\r\n\r\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]),
      Buffer.from(`OPTIONS sip:x SIP/2.0\r\nVia: ;;;\r\nContent-Length: 99999999999999\r\n\r\n`),
      Buffer.alloc(3000, 0x41),
    ];
    for (const j of junk) raw.send(j, to.port, LOOPBACK);
    await waitFor(() => inB.invalid.length === junk.length, 3000, 'invalid datagrams');
    for (const inv of inB.invalid) {
      expect(inv.error).toEqual(expect.any(String));
      expect(inv.source).toMatchObject({ transport: 'udp', address: LOOPBACK, port: raw.address().port });
    }
    expect(inB.invalid.map((i) => i.raw.length).sort()).toEqual(junk.map((j) => j.length).sort());
    // Still receiving.
    raw.send(optionsText(via('UDP', `${LOOPBACK}:${raw.address().port}`)), to.port, LOOPBACK);
    const ok = await inB.next();
    expect(ok.message.kind).toBe('request');
    expect(inB.messages).toHaveLength(1);
  });

  it('survives a burst of random garbage datagrams', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const raw = await res.udpSocket();
    const to = b.local('udp');
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const base = Buffer.from(optionsText(via('UDP', `${LOOPBACK}:5060`), 'hello'));
    const n = 300;
    for (let i = 0; i < n; i++) {
      const d = Buffer.from(base);
      for (let k = 0; k < 1 + (rand() % 8); k++) d[rand() % d.length] = rand() % 256;
      raw.send(d.subarray(0, 1 + (rand() % d.length)), to.port, LOOPBACK);
      if (i % 50 === 0) await sleep(1);
    }
    await waitFor(() => inB.invalid.length + inB.messages.length === n, 5000, 'all garbage handled');
    raw.send(optionsText(via('UDP', `${LOOPBACK}:5060`), '', 'after-garbage'), to.port, LOOPBACK);
    await waitFor(() => inB.messages.some((m) => m.message.headers.get('Call-ID') === 'after-garbage'));
    expect(inB.errors).toEqual([]);
  });

  it('ignores CRLF keep-alive datagrams (RFC 5626) without reporting them', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const raw = await res.udpSocket();
    raw.send(Buffer.from('\r\n\r\n'), b.local('udp').port, LOOPBACK);
    raw.send(optionsText(via('UDP', `${LOOPBACK}:5060`)), b.local('udp').port, LOOPBACK);
    await inB.next();
    expect(inB.invalid).toEqual([]);
  });

  it('a handler that throws does not break delivery (the error goes to onError)', async () => {
    const b = await res.layer();
    b.onMessage(() => {
      throw new Error('handler bug');
    });
    const inB = new Inbox(b);
    const raw = await res.udpSocket();
    raw.send(optionsText(via('UDP', `${LOOPBACK}:5060`)), b.local('udp').port, LOOPBACK);
    raw.send(optionsText(via('UDP', `${LOOPBACK}:5060`)), b.local('udp').port, LOOPBACK);
    await inB.next(2);
    expect(inB.errors.map((e) => e.message)).toEqual(['handler bug', 'handler bug']);
  });

  it('rejects a message larger than a UDP datagram instead of fragmenting', async () => {
    const a = await res.layer();
    const b = await res.layer();
    const big = optionsRequest(via('UDP', `${LOOPBACK}:5060`), { body: Buffer.alloc(UDP_MAX_PAYLOAD, 0x61) });
    expect(serializeMessage(big).length).toBeGreaterThan(UDP_MAX_PAYLOAD);
    await expect(a.send(big, b.local('udp'))).rejects.toThrow(/exceeds the UDP maximum/);
  });

  it('sends after close reject, close is idempotent', async () => {
    const a = await res.layer();
    await a.close();
    await a.close();
    await expect(a.send(optionsRequest(via('UDP', `${LOOPBACK}:5060`)), a.local('udp'))).rejects.toThrow(
      /closed/,
    );
  });
});

describe('shouldUseTcp (RFC 3261 §18.1.1)', () => {
  it('uses 1300 bytes when the path MTU is unknown', () => {
    expect(shouldUseTcp(1300)).toBe(false);
    expect(shouldUseTcp(1301)).toBe(true);
  });

  it('uses MTU − 200 when the path MTU is known', () => {
    expect(shouldUseTcp(1300, 1500)).toBe(false);
    expect(shouldUseTcp(1301, 1500)).toBe(true);
    expect(shouldUseTcp(8800, 9000)).toBe(false);
    expect(shouldUseTcp(8801, 9000)).toBe(true);
  });

  it('is exposed on the layer with its configured MTU', async () => {
    const a = await res.layer({ pathMtu: 9000 });
    expect(a.shouldUseTcp(5000)).toBe(false);
    expect(a.shouldUseTcp(8900)).toBe(true);
    const b = await res.layer();
    expect(b.shouldUseTcp(1400)).toBe(true);
  });

  it('the top Via of a parsed request is readable (sanity for the builders)', () => {
    expect(topVia(optionsRequest(via('UDP', '127.0.0.1:5070')))).toMatchObject({
      transport: 'UDP',
      port: 5070,
    });
  });
});
