/** Test support: a metrics sink that records what the use cases emit (adapters/metrics.ts). */
import type { MetricEvent, MetricsSink } from '#adapters/metrics.ts';

export interface FakeMetrics extends MetricsSink {
  /** Every event added, in order. */
  events: MetricEvent[];
  /** How many times flush() was called. */
  flushes: number;
  /** Sum of the values of `name` (counts default to 1), optionally of one Reason/Class. */
  total(name: MetricEvent['name'], dimension?: string): number;
}

export const fakeMetrics = (): FakeMetrics => {
  const sink: FakeMetrics = {
    events: [],
    flushes: 0,
    add(m) {
      sink.events.push(m);
    },
    flush() {
      sink.flushes++;
    },
    total(name, dimension) {
      return sink.events
        .filter((e) => e.name === name)
        .filter(
          (e) =>
            dimension === undefined ||
            ('reason' in e && e.reason === dimension) ||
            ('class' in e && e.class === dimension),
        )
        .reduce((n, e) => n + (e.value ?? 1), 0);
    },
  };
  return sink;
};
