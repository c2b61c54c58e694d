/**
 * edge/edge-metrics.ts: the SIP edge's EMF line (SipTransactions, SipRetransmissions per period,
 * EdgeActiveTransactions as a gauge; namespace MCPTT, dimension System), and the edge option `metrics`.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { type EdgeCounters, edgeEmfLine, startEdgeMetrics } from '../../../edge/edge-metrics.ts';
import type { FunctionsClient } from '../../../edge/functions-client.ts';
import { type SipEdge, startSipEdge } from '../../../edge/sip-edge.ts';

describe('Edge metrics: EMF line', () => {
  it('has the _aws block (Timestamp, CloudWatchMetrics: Namespace, Dimensions, Metrics with Name and Unit) and the values', () => {
    const line = edgeEmfLine(
      'primary.example',
      { transactions: 42, retransmissions: 3, active: 7 },
      1_795_000_000_000,
    );
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      _aws: {
        Timestamp: 1_795_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'MCPTT',
            Dimensions: [['System']],
            Metrics: [
              { Name: 'SipTransactions', Unit: 'Count' },
              { Name: 'SipRetransmissions', Unit: 'Count' },
              { Name: 'EdgeActiveTransactions', Unit: 'Count' },
            ],
          },
        ],
      },
      System: 'primary.example',
      SipTransactions: 42,
      SipRetransmissions: 3,
      EdgeActiveTransactions: 7,
    });
  });

  it('counts per period (differences of the cumulative counters), the gauge as read', () => {
    let counters: EdgeCounters = { transactions: 10, retransmissions: 1, active: 4 };
    const lines: string[] = [];
    const m = startEdgeMetrics('primary.example', () => counters, {
      write: (l) => lines.push(l),
      intervalMs: 3_600_000,
      now: () => 5,
    });
    counters = { transactions: 25, retransmissions: 4, active: 2 };
    expect(m.publish()).toEqual({ transactions: 15, retransmissions: 3, active: 2 });
    expect(m.publish()).toEqual({ transactions: 0, retransmissions: 0, active: 2 });
    m.stop();
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { _aws: { Timestamp: 5 }, SipTransactions: 15, SipRetransmissions: 3, EdgeActiveTransactions: 2 },
      { SipTransactions: 0, SipRetransmissions: 0, EdgeActiveTransactions: 2 },
    ]);
  });

  it('sends each line as a datagram to udp://host:port (the CloudWatch agent EMF listener)', async () => {
    const server = createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const received = new Promise<string>((r) => server.once('message', (msg) => r(msg.toString())));
    const { port } = server.address();
    const m = startEdgeMetrics(
      'primary.example',
      () => ({ transactions: 0, retransmissions: 0, active: 1 }),
      {
        endpoint: `udp://127.0.0.1:${port}`,
        intervalMs: 3_600_000,
      },
    );
    m.publish();
    const line = await received;
    m.stop();
    server.close();
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ System: 'primary.example', EdgeActiveTransactions: 1 });
  });
});

describe('Edge metrics: the edge option', () => {
  let edge: SipEdge | undefined;
  afterEach(async () => {
    await edge?.stop();
    edge = undefined;
  });

  it('metrics: on, the edge writes a line per period counting its transactions', async () => {
    const lines: string[] = [];
    edge = await startSipEdge({
      domain: 'primary.example',
      port: 0,
      functions: {} as FunctionsClient,
      authSecret: Buffer.from('x'),
      metrics: { intervalMs: 40, write: (l) => lines.push(l) },
    });
    const client = createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    const answered = new Promise<string>((r) => client.once('message', (m) => r(m.toString())));
    const { port } = client.address();
    const options = [
      'OPTIONS sip:primary.example SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKedgemetrics1`,
      'Max-Forwards: 70',
      'From: <sip:probe@primary.example>;tag=1',
      'To: <sip:primary.example>',
      'Call-ID: edge-metrics-1',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    client.send(options, edge.udp.port, '127.0.0.1');
    expect(await answered).toMatch(/^SIP\/2\.0 200/);
    await new Promise((r) => setTimeout(r, 120));
    client.close();
    const values = lines.map((l) => JSON.parse(l) as Record<string, number>);
    expect(values.length).toBeGreaterThanOrEqual(2);
    expect(values.reduce((n, v) => n + (v.SipTransactions ?? 0), 0)).toBe(1);
    expect(values[0]).toHaveProperty('EdgeActiveTransactions');
  });
});
