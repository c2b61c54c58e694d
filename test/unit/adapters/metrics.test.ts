/** adapters/metrics.ts: the EMF lines Powertools Metrics writes for our sink. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmfMetrics, metricsDisabledIn, metricsFromEnv, noMetrics } from '#adapters/metrics.ts';
import { METRIC_NAMESPACE } from '../../../lib/metric-names.ts';

/** The JSON lines written to stdout while `fn` runs. */
const stdoutLines = (fn: () => void): Record<string, unknown>[] => {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
};

describe('Adapter: EMF metrics (Powertools)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('one EMF line per dimension set, namespace MCPTT, dimension System only (no Powertools service)', () => {
    const m = createEmfMetrics({ system: 'primary.example' });
    m.add({ name: 'CallsStarted' });
    m.add({ name: 'CallSetupLatency', value: 120 });
    m.add({ name: 'CallSetupLatency', value: 95 });
    m.add({ name: 'CallsFailed', reason: 'abandoned' });
    m.add({ name: 'MemberResponses', class: '2xx', value: 3 });
    const lines = stdoutLines(() => m.flush());
    expect(lines).toHaveLength(3);
    const [plain, failed, responses] = lines;
    expect(plain).toMatchObject({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [['System']],
            Metrics: [
              { Name: 'CallsStarted', Unit: 'Count' },
              { Name: 'CallSetupLatency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      System: 'primary.example',
      CallsStarted: 1,
      CallSetupLatency: [120, 95],
    });
    expect(plain).not.toHaveProperty('service');
    expect(failed).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['System', 'Reason']] }] },
      Reason: 'abandoned',
      CallsFailed: 1,
    });
    expect(responses).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['System', 'Class']] }] },
      Class: '2xx',
      MemberResponses: 3,
    });
  });

  it('a flush with nothing recorded writes nothing (no Powertools warning either)', () => {
    const m = createEmfMetrics({ system: 'primary.example' });
    m.add({ name: 'CallsStarted' });
    expect(stdoutLines(() => m.flush())).toHaveLength(1);
    const warn = vi.spyOn(console, 'warn');
    expect(stdoutLines(() => m.flush())).toHaveLength(0);
    expect(warn).not.toHaveBeenCalled();
  });

  it('POWERTOOLS_METRICS_DISABLED turns the sink off', () => {
    expect(metricsDisabledIn({ POWERTOOLS_METRICS_DISABLED: 'true' })).toBe(true);
    expect(metricsDisabledIn({ POWERTOOLS_METRICS_DISABLED: 'false' })).toBe(false);
    expect(metricsDisabledIn({})).toBe(false);
    expect(metricsFromEnv({ POWERTOOLS_METRICS_DISABLED: '1' }, 'primary.example')).toBe(noMetrics);
  });
});
