/**
 * The SIP edge's CloudWatch metrics (lib/metric-names.ts): every period (EDGE_GAUGE_PERIOD_SECONDS) one
 * EMF (Embedded Metric Format) JSON line with
 * - `SipTransactions`: SIP transactions the edge created in the period (server and client, every method),
 * - `SipRetransmissions`: requests and responses it retransmitted in the period (timers A, E, G, responses
 *   resent for a retransmitted request, and the 2xx retransmissions of its calls),
 * - `EdgeActiveTransactions`: live transactions at the end of the period (a gauge),
 * with the one dimension `System`. On by the edge option `metrics`; off locally by default.
 *
 * The lines go to stdout by default. Outside Lambda, CloudWatch Logs extracts EMF only from log events
 * sent with the `x-amzn-logs-format: json/emf` header, which the CloudWatch agent sets: in a container,
 * send the lines to the agent (`endpoint: 'udp://127.0.0.1:25888'`, the agent's EMF listener) or through
 * a log router that sets the header.
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  EDGE_GAUGE_PERIOD_SECONDS,
  METRIC_DEFINITIONS,
  METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
} from '../lib/metric-names.ts';

/** The edge's cumulative counters and its gauge, read at each period. */
export interface EdgeCounters {
  /** Transactions created since start. */
  transactions: number;
  /** Retransmissions sent since start. */
  retransmissions: number;
  /** Live transactions now. */
  active: number;
}

/** One period's values. */
export interface EdgeMetricsSample {
  transactions: number;
  retransmissions: number;
  active: number;
}

const EDGE_METRICS = ['SipTransactions', 'SipRetransmissions', 'EdgeActiveTransactions'] as const;

/** The EMF line of one period (one JSON object, no newline). */
export const edgeEmfLine = (system: string, sample: EdgeMetricsSample, timestamp: number): string =>
  JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [[METRIC_DIMENSIONS.system]],
          Metrics: EDGE_METRICS.map((name) => ({ Name: name, Unit: METRIC_DEFINITIONS[name].unit })),
        },
      ],
    },
    [METRIC_DIMENSIONS.system]: system,
    SipTransactions: sample.transactions,
    SipRetransmissions: sample.retransmissions,
    EdgeActiveTransactions: sample.active,
  });

export interface EdgeMetricsOptions {
  /** Period, milliseconds. Default EDGE_GAUGE_PERIOD_SECONDS. */
  intervalMs?: number;
  /**
   * Where the lines go: a function, or `udp://host:port` (the CloudWatch agent's EMF listener).
   * Default: stdout.
   */
  write?: (line: string) => void;
  endpoint?: string;
  /** Clock of the EMF Timestamp. Default Date.now. */
  now?: () => number;
}

export interface EdgeMetrics {
  /** Takes one sample now and writes its line (the timer does this every period). */
  publish(): EdgeMetricsSample;
  stop(): void;
}

/** A writer sending each line as one datagram to `udp://host:port`. */
const udpWriter = (endpoint: string): { write: (line: string) => void; close: () => void } => {
  const url = new URL(endpoint);
  if (url.protocol !== 'udp:' || !url.port)
    throw new Error(`edge metrics endpoint must be udp://host:port: ${endpoint}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.unref();
  return {
    write: (line) => socket.send(`${line}\n`, Number(url.port), host, () => undefined),
    close: () => socket.close(),
  };
};

/**
 * Publishes the edge's metrics every period from its cumulative counters (differences since the last
 * period; the gauge as read). The timer does not keep the process alive.
 */
export const startEdgeMetrics = (
  system: string,
  counters: () => EdgeCounters,
  opts: EdgeMetricsOptions = {},
): EdgeMetrics => {
  const now = opts.now ?? Date.now;
  const udp = opts.write ? undefined : opts.endpoint ? udpWriter(opts.endpoint) : undefined;
  const write = opts.write ?? udp?.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let last = counters();
  const publish = (): EdgeMetricsSample => {
    const current = counters();
    const sample = {
      transactions: Math.max(0, current.transactions - last.transactions),
      retransmissions: Math.max(0, current.retransmissions - last.retransmissions),
      active: current.active,
    };
    last = current;
    try {
      write(edgeEmfLine(system, sample, now()));
    } catch {
      // metrics never disturb the edge
    }
    return sample;
  };
  const timer = setInterval(publish, opts.intervalMs ?? EDGE_GAUGE_PERIOD_SECONDS * 1000);
  timer.unref();
  return {
    publish,
    stop() {
      clearInterval(timer);
      udp?.close();
    },
  };
};
