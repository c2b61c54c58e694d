import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse, topVia } from '../../../../sip/message/accessors.ts';
import { SipHeaders, type SipResponse } from '../../../../sip/message/types.ts';
import { responseDestination, stampReceived } from '../../../../sip/transport/transport-layer.ts';
import type { Endpoint } from '../../../../sip/transport/types.ts';
import { Inbox, LOOPBACK, optionsRequest, optionsText, Resources, via, waitFor } from './helpers.ts';

const res = new Resources();
afterEach(() => res.closeAll());

const src = (address: string, port: number, transport: 'udp' | 'tcp' = 'udp'): Endpoint => ({
  transport,
  address,
  port,
});

/** The top Via value after stamping a request with `viaValue` received from `source`. */
const stamped = (viaValue: string, source: Endpoint): string => {
  const req = optionsRequest(viaValue);
  expect(stampReceived(req, source)).toBe(true);
  return req.headers.get('Via') ?? '';
};

const response = (...vias: string[]): SipResponse => ({
  kind: 'response',
  status: 200,
  reason: 'OK',
  version: 'SIP/2.0',
  headers: new SipHeaders(vias.map((v) => ['Via', v] as [string, string])),
  body: Buffer.alloc(0),
});

describe('stampReceived (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
  it('leaves the Via alone when sent-by is the source address and there is no rport', () => {
    expect(stamped('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', src('10.0.0.1', 5060))).toBe(
      'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1',
    );
  });

  it('adds received when the sent-by address differs from the source', () => {
    expect(stamped('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', src('192.0.2.7', 5060))).toBe(
      'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=192.0.2.7',
    );
  });

  it('adds received when sent-by is a host name', () => {
    expect(stamped('SIP/2.0/TCP client.example.com;branch=z9hG4bK1', src('192.0.2.7', 40000, 'tcp'))).toBe(
      'SIP/2.0/TCP client.example.com;branch=z9hG4bK1;received=192.0.2.7',
    );
  });

  it('fills an empty rport and adds received even when the address is the same (RFC 3581 §4)', () => {
    expect(stamped('SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1', src('10.0.0.1', 61000))).toBe(
      'SIP/2.0/UDP 10.0.0.1:5060;rport=61000;branch=z9hG4bK1;received=10.0.0.1',
    );
  });

  it('fills rport behind a NAT (address and port both differ)', () => {
    expect(stamped('SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK1;rport', src('203.0.113.9', 1024))).toBe(
      'SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK1;rport=1024;received=203.0.113.9',
    );
  });

  it('overwrites a received / rport value supplied by the client (no response reflection)', () => {
    expect(
      stamped(
        'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=198.51.100.1;rport=9',
        src('10.0.0.1', 5060),
      ),
    ).toBe('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=10.0.0.1;rport=5060');
  });

  it('compares IPv6 sent-by without brackets and writes an IPv6 received in brackets', () => {
    expect(stamped('SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1', src('::1', 5060))).toBe(
      'SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1',
    );
    const v = stamped('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport', src('2001:db8::2', 7000));
    expect(v).toBe('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport=7000;received=[2001:db8::2]');
  });

  it('treats an IPv4-mapped source as IPv4', () => {
    expect(stamped('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', src('::ffff:10.0.0.1', 5060))).toBe(
      'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1',
    );
  });

  it('rewrites only the first via-parm of the first Via field', () => {
    const req = optionsRequest(
      'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1 , SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0',
      {
        extraVia: 'SIP/2.0/UDP other.example.com;branch=z9hG4bKz',
      },
    );
    stampReceived(req, src('192.0.2.7', 5060));
    expect(req.headers.getAll('Via')).toEqual([
      'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=192.0.2.7, SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0',
      'SIP/2.0/UDP other.example.com;branch=z9hG4bKz',
    ]);
  });

  it('returns false for a request without Via', () => {
    const req = optionsRequest('x');
    req.headers.remove('Via');
    expect(stampReceived(req, src('10.0.0.1', 5060))).toBe(false);
  });
});

describe('responseDestination (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('TCP: the connection of the request when the request source is known', () => {
    const r = response('SIP/2.0/TCP client.example.com:5070;branch=z9hG4bK1;received=192.0.2.7');
    expect(responseDestination(r, src('192.0.2.7', 40001, 'tcp'))).toEqual(src('192.0.2.7', 40001, 'tcp'));
  });

  it('TCP without a connection: received + sent-by port (rport not used), else sent-by, default 5060', () => {
    expect(
      responseDestination(
        response('SIP/2.0/TCP client.example.com:5070;branch=z9hG4bK1;rport=40001;received=192.0.2.7'),
      ),
    ).toEqual(src('192.0.2.7', 5070, 'tcp'));
    expect(responseDestination(response('SIP/2.0/TCP 192.0.2.8;branch=z9hG4bK1'))).toEqual(
      src('192.0.2.8', 5060, 'tcp'),
    );
  });

  it('TCP sent-protocol with a UDP request source: not a connection, use received / sent-by', () => {
    expect(
      responseDestination(
        response('SIP/2.0/TCP 192.0.2.8:5080;branch=z9hG4bK1'),
        src('192.0.2.8', 5080, 'udp'),
      ),
    ).toEqual(src('192.0.2.8', 5080, 'tcp'));
  });

  it('UDP: maddr first, at the sent-by port', () => {
    expect(
      responseDestination(
        response('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;maddr=239.1.1.1;ttl=1;received=192.0.2.7'),
      ),
    ).toEqual(src('239.1.1.1', 5070));
  });

  it('UDP: received + rport (RFC 3581)', () => {
    expect(
      responseDestination(
        response('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport=61000;received=192.0.2.7'),
      ),
    ).toEqual(src('192.0.2.7', 61000));
  });

  it('UDP: received without rport → the sent-by port, or 5060', () => {
    expect(
      responseDestination(response('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.7')),
    ).toEqual(src('192.0.2.7', 5070));
    expect(
      responseDestination(response('SIP/2.0/UDP host.example.com;branch=z9hG4bK1;received=192.0.2.7')),
    ).toEqual(src('192.0.2.7', 5060));
  });

  it('UDP: neither received nor maddr → sent-by host and port; the request source is not used', () => {
    expect(
      responseDestination(response('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1'), src('10.9.9.9', 1111)),
    ).toEqual(src('10.0.0.1', 5070));
    expect(responseDestination(response('SIP/2.0/UDP host.example.com;branch=z9hG4bK1'))).toEqual(
      src('host.example.com', 5060),
    );
  });

  it('UDP: an IPv6 received, with or without brackets', () => {
    expect(
      responseDestination(
        response('SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1;rport=7000;received=[2001:db8::2]'),
      ),
    ).toEqual(src('2001:db8::2', 7000));
    expect(responseDestination(response('SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1'))).toEqual(
      src('2001:db8::1', 5070),
    );
  });

  it('uses only the top Via', () => {
    expect(
      responseDestination(
        response('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK0'),
      ),
    ).toEqual(src('10.0.0.1', 5070));
  });

  it('undefined for an unsupported transport or a missing Via', () => {
    expect(responseDestination(response('SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1'))).toBeUndefined();
    expect(responseDestination(response())).toBeUndefined();
  });
});

describe('transport layer: received/rport end to end', () => {
  it('stamps received+rport on a UDP request and sends the response to the source port, not sent-by', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const client = await res.udpSocket();
    const got: Buffer[] = [];
    client.on('message', (m) => got.push(m));
    const port = client.address().port;
    // sent-by names another loopback address and port (as a NATed client would): only rport reaches us.
    client.send(optionsText(via('UDP', '127.0.0.2:5999', ';rport')), b.local('udp').port, LOOPBACK);
    const req = await inB.next();
    const top = topVia(req.message);
    expect(top?.params.get('rport')).toBe(String(port));
    expect(top?.params.get('received')).toBe(LOOPBACK);
    expect(req.raw.toString('latin1')).toContain(';rport\r\n'); // raw stays as received
    if (req.message.kind !== 'request') throw new Error('expected a request');
    await b.send(createResponse(req.message, 200), req.source);
    await waitFor(() => got.length > 0, 3000, 'response at the source port');
    expect(got[0]?.toString('latin1')).toMatch(/^SIP\/2\.0 200 OK\r\n/);
    expect(got[0]?.toString('latin1')).toContain(`;rport=${port};received=127.0.0.1`);
  });

  it('stamps received on a TCP request whose sent-by differs from the source', async () => {
    const b = await res.layer();
    const inB = new Inbox(b);
    const c = await res.tcpClient(b.local('tcp').port);
    c.write(optionsText(via('TCP', 'client.invalid:5070')));
    const req = await inB.next();
    expect(topVia(req.message)?.params.get('received')).toBe(LOOPBACK);
    expect(topVia(req.message)?.params.has('rport')).toBe(false);
  });

  it('acceptResponse discards responses whose top Via is not ours (§18.1.2)', async () => {
    const a = await res.layer({ acceptResponse: (v) => v.host === 'us.invalid' });
    const inA = new Inbox(a);
    const client = await res.udpSocket();
    const mk = (host: string) =>
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP ${host};branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n` +
      `Call-ID: ${host}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    client.send(mk('them.invalid'), a.local('udp').port, LOOPBACK);
    client.send(mk('us.invalid'), a.local('udp').port, LOOPBACK);
    const m = await inA.next();
    expect(m.message.headers.get('Call-ID')).toBe('us.invalid');
    await waitFor(() => inA.invalid.length === 1);
    expect(inA.invalid[0]?.error).toMatch(/18\.1\.2/);
    expect(inA.messages).toHaveLength(1);
  });

  it('a response with an unsupported Via transport is refused by send()', async () => {
    const a = await res.layer();
    await expect(
      a.send(response('SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1'), a.local('udp')),
    ).rejects.toThrow(/18\.2\.2/);
  });

  it('separate tcpPort is honoured', async () => {
    const probe = await res.layer();
    const tcpPort = probe.local('tcp').port;
    await probe.close();
    const a = await res.layer({ tcpPort });
    expect(a.local('tcp').port).toBe(tcpPort);
  });
});

const hasIPv6Loopback =
  networkInterfaces().lo?.some((i) => i.family === 'IPv6' && i.address === '::1') ?? false;

describe.skipIf(!hasIPv6Loopback)('transport layer on IPv6 loopback', () => {
  it('UDP and TCP requests and responses over ::1, with rport', async () => {
    const a = await res.layer({ host: '::1' });
    const b = await res.layer({ host: '::1' });
    expect(a.local('udp').address).toBe('::1');
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    b.onMessage((m) => {
      if (m.message.kind === 'request') void b.send(createResponse(m.message, 200), m.source);
    });
    await a.send(optionsRequest(via('UDP', `[::1]:${a.local('udp').port}`, ';rport')), b.local('udp'));
    await a.send(optionsRequest(via('TCP', `[::1]:${a.local('tcp').port}`)), b.local('tcp'));
    await inA.next(2);
    expect(topVia(inB.messages[0]?.message ?? response())?.params.get('received')).toBe('[::1]');
    expect(inA.messages.map((m) => m.source)).toEqual(
      expect.arrayContaining([b.local('udp'), b.local('tcp')]),
    );
  });
});
