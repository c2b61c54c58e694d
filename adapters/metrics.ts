/**
 * Functions → CloudWatch metrics, as EMF (Embedded Metric Format) lines on stdout written by Powertools
 * Metrics; CloudWatch Logs turns them into metrics of the namespace, names, units and dimensions of
 * lib/metric-names.ts. The use cases see only {@link MetricsSink} (injected through their deps), so they
 * stay testable with a fake sink and the core stays pure.
 *
 * Every metric has the system's dimension (`System`); `CallsFailed` adds `Reason` and `MemberResponses`
 * adds `Class`, from small fixed sets. Powertools' own `service` dimension is removed, so the dimension
 * sets are exactly the ones the alarms and the dashboard query.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type CallFailureReason,
  METRIC_DEFINITIONS,
  METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  type MemberResponseClass,
  type MetricName,
  type MetricUnitName,
} from '../lib/metric-names.ts';
import { ENV } from '../lib/routes.ts';

/** One value of one metric; counts default to 1. */
export type MetricEvent =
  | { name: 'CallsFailed'; reason: CallFailureReason; value?: number }
  | { name: 'MemberResponses'; class: MemberResponseClass; value?: number }
  | { name: Exclude<MetricName, 'CallsFailed' | 'MemberResponses'>; value?: number };

/** What the use cases record metrics through. */
export interface MetricsSink {
  add(metric: MetricEvent): void;
  /** Publishes what was recorded since the last flush (at the end of each invocation); nothing when empty. */
  flush(): void;
}

/** A sink that drops everything (metrics disabled; tests that do not look at metrics). */
export const noMetrics: MetricsSink = { add: () => undefined, flush: () => undefined };

/** Powertools' switch, honoured here too: `true` (or 1, yes, on) turns metrics off. */
export const METRICS_DISABLED_ENV = ENV.metricsDisabled;

/** Whether an environment turns metrics off (Powertools' truthy spellings). */
export const metricsDisabledIn = (env: Readonly<Record<string, string | undefined>>): boolean =>
  /^(1|true|yes|on|y)$/i.test(env[METRICS_DISABLED_ENV]?.trim() ?? '');

const UNITS: Record<MetricUnitName, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
};

/** The dimensions of one event beyond `System`. */
const extraDimensionsOf = (m: MetricEvent): Record<string, string> => {
  if (m.name === 'CallsFailed') return { [METRIC_DIMENSIONS.reason]: m.reason };
  if (m.name === 'MemberResponses') return { [METRIC_DIMENSIONS.class]: m.class };
  return {};
};

/**
 * The EMF sink of one system: one Powertools `Metrics` per dimension set (`System` alone, or with its
 * `Reason` / `Class` value), each flushed as one EMF line holding every value recorded since the last
 * flush.
 */
export const createEmfMetrics = (opts: { system: string; namespace?: string }): MetricsSink => {
  const namespace = opts.namespace ?? METRIC_NAMESPACE;
  const sets = new Map<string, { metrics: Metrics; pending: number }>();
  const setFor = (extra: Record<string, string>) => {
    const key = JSON.stringify(extra);
    let set = sets.get(key);
    if (!set) {
      const metrics = new Metrics({ namespace });
      // Drop Powertools' `service` dimension: the dimension sets are exactly lib/metric-names.ts's.
      metrics.clearDefaultDimensions();
      metrics.setDefaultDimensions({ [METRIC_DIMENSIONS.system]: opts.system, ...extra });
      set = { metrics, pending: 0 };
      sets.set(key, set);
    }
    return set;
  };
  return {
    // A metric must never fail a call: problems are reported on stderr and the metric is dropped.
    add(m) {
      try {
        const set = setFor(extraDimensionsOf(m));
        set.metrics.addMetric(m.name, UNITS[METRIC_DEFINITIONS[m.name].unit], m.value ?? 1);
        set.pending++;
      } catch (e) {
        console.error(`metric ${m.name} dropped: ${(e as Error).message}`);
      }
    },
    flush() {
      for (const set of sets.values()) {
        if (set.pending === 0) continue;
        set.pending = 0;
        try {
          set.metrics.publishStoredMetrics();
        } catch (e) {
          console.error(`metrics not published: ${(e as Error).message}`);
        }
      }
    },
  };
};

/** The sink a function builds from its environment: EMF, or nothing when metrics are disabled. */
export const metricsFromEnv = (
  env: Readonly<Record<string, string | undefined>>,
  system: string,
): MetricsSink => (metricsDisabledIn(env) ? noMetrics : createEmfMetrics({ system }));
