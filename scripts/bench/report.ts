/**
 * Tables of the group call benchmark (Markdown, printed and written), and the files under
 * bench/results/: `regroup-<date>.json` (everything measured) and `regroup-<date>.md` (the tables).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Breakdown, StepOperations } from './analysis.ts';
import { type Distribution, fmt } from './common.ts';
import { type CallOperations, type CostBreakdown, costPerMillion, DURATION_MODEL, PRICES } from './cost.ts';
import type { ProfileSummary } from './server.ts';

export interface StepResult {
  system: 'ours' | 'kamailio';
  n: number;
  rate: number;
  /** Seconds during which calls were offered. */
  offeredS: number;
  /** Seconds of the step: offering, then waiting for the last final response. */
  wallS: number;
  calls: number;
  ok: number;
  failed: number;
  /** Failure reasons and their counts (`480 Temporarily Unavailable`, `timeout`, …). */
  failures: Record<string, number>;
  /** Offering stopped early: why. */
  saturated?: string;
  /** INVITE → final response of successful calls (ours: 200 after all N accepted; Kamailio: all N answered). */
  setupMs: Distribution;
  /** Kamailio: INVITE → first forwarded 180 (first member reached). */
  firstMemberMs?: Distribution;
  /** INVITEs the member pool received (first transmissions) per second of the busy window. */
  legsPerS: number;
  memberInvites: number;
  /** Calls × N: the INVITEs the members should have received. */
  expectedLegs: number;
  memberInviteRetransmissions: number;
  serverCpuS: number;
  cpuPerCallS: number;
  rssStartMiB: number;
  rssEndMiB: number;
  /** Ours: V8 heap in use after a full GC at the end of the step (retained, not just not yet collected). */
  heapAfterGcMiB?: number;
  /** RSS of the systems' table processes (dynalite: stored data) at the start and end of the step. */
  tableRssMiB?: { start: number; end: number };
  /** Memory outside the V8 heap that V8 accounts for (Buffers…), after the same GC. */
  externalAfterGcMiB?: number;
  /** RSS growth over the step (see rssSlopeOver), MiB per minute. */
  rssSlopeMiBPerMin: number;
  /** What the slope is fitted to: the whole step after a warm-up of 60 s or more, else its second half. */
  rssSlopeOver: 'whole step' | 'second half';
  /** Ours with --warmup: the unmeasured calls at the step's rate just before it. */
  warmup?: { seconds: number; calls: number; ok: number };
  /** The RSS the slope is fitted to: one sample a second during the step, MiB (JSON only). */
  rssSamplesMiB?: number[];
  /**
   * Ours: each systems process's memory every 10 s of the step (seconds since its start; MiB): what
   * grows when the RSS grows — V8's heap (heapTotal committed, heapUsed live and not yet collected) or
   * memory outside it.
   */
  memoryTrace?: {
    atS: number;
    processes: {
      system: string;
      rss: number;
      heapTotal: number;
      heapUsed: number;
      external: number;
      /** Resident MiB of each V8 heap space (new_space, old_space, code_space, …). */
      spaces?: Record<string, number>;
    }[];
  }[];
  peakRssMiB: number;
  poolCpuS: number;
  /** CPU seconds used by processes outside the benchmark during the step (disturbance). */
  othersCpuS: number;
  /** Unparseable messages, requests to unknown users or send errors at the member pool. */
  poolIssues?: string;
  serverErrors: number;
  serverErrorLines: string[];
  loopDelay?: { p99Ms: number; maxMs: number };
  edges?: Record<string, { legs: number; held: number; calls: number; transactions: number }>;
  breakdown?: Breakdown;
  operations?: StepOperations;
  /** CPU profile of the systems' processes during the step, added up (--profile). */
  profile?: ProfileSummary;
  /** Caller INVITE retransmissions and 407 challenges during the step. */
  callerRetransmissions: number;
  challenged: number;
}

const MiB = 2 ** 20;
export const mib = (bytes: number): number => bytes / MiB;

const row = (cols: (string | number)[]) => `| ${cols.join(' | ')} |`;
const sep = (n: number, left = 1) =>
  `|${Array.from({ length: n }, (_, i) => (i < left ? '---' : '---:')).join('|')}|`;

const shortSegment = (s: string) => s.replace(/ \(.*\)$/, '');

export const mainTable = (results: StepResult[]): string[] => {
  const head = [
    'system',
    'N',
    'calls/s',
    'calls',
    'ok',
    'failed',
    'setup p50',
    'p95',
    'p99',
    'max (ms)',
    'first member p50/p95 (ms)',
    'member legs/s',
    'CPU s/call',
    'peak RSS MiB',
    'RSS start→end MiB',
    'heap after GC MiB',
    'other procs CPU s',
    'slowest step (mean ms, share)',
  ];
  const body = results.map((r) =>
    row([
      r.system,
      r.n,
      r.rate,
      r.calls,
      r.ok,
      r.failed,
      fmt(r.setupMs.p50),
      fmt(r.setupMs.p95),
      fmt(r.setupMs.p99),
      fmt(r.setupMs.max),
      r.firstMemberMs ? `${fmt(r.firstMemberMs.p50)} / ${fmt(r.firstMemberMs.p95)}` : '-',
      fmt(r.legsPerS, 0),
      fmt(r.cpuPerCallS, 3),
      fmt(r.peakRssMiB),
      `${fmt(r.rssStartMiB)}→${fmt(r.rssEndMiB)}`,
      fmt(r.heapAfterGcMiB),
      fmt(r.othersCpuS, 1),
      r.breakdown?.slowest
        ? `${shortSegment(r.breakdown.slowest.name)} (${fmt(r.breakdown.slowest.meanMs)}, ${fmt(100 * r.breakdown.slowest.share)} %)`
        : r.saturated
          ? 'saturated'
          : '-',
    ]),
  );
  return [row(head), sep(head.length, 1), ...body];
};

export const ratioTable = (results: StepResult[]): string[] => {
  const head = [
    'N',
    'calls/s',
    'ours p50 / Kamailio p50',
    'ours p95 / Kamailio p95',
    'ours CPU/call ÷ Kamailio CPU/call',
    'ours ok / Kamailio ok',
  ];
  const out = [row(head), sep(head.length, 2)];
  for (const o of results.filter((r) => r.system === 'ours')) {
    const k = results.find((r) => r.system === 'kamailio' && r.n === o.n && r.rate === o.rate);
    if (!k) continue;
    const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b, 1)}×` : '-');
    out.push(
      row([
        o.n,
        o.rate,
        `${fmt(o.setupMs.p50)} / ${fmt(k.setupMs.p50)} = ${ratio(o.setupMs.p50, k.setupMs.p50)}`,
        `${fmt(o.setupMs.p95)} / ${fmt(k.setupMs.p95)} = ${ratio(o.setupMs.p95, k.setupMs.p95)}`,
        `${fmt(o.cpuPerCallS, 3)} / ${fmt(k.cpuPerCallS, 4)} = ${ratio(o.cpuPerCallS, k.cpuPerCallS)}`,
        `${o.ok}/${o.calls} vs ${k.ok}/${k.calls}`,
      ]),
    );
  }
  return out;
};

export const breakdownTable = (r: StepResult): string[] => {
  if (!r.breakdown) return [];
  const b = r.breakdown;
  const out = [
    `N = ${r.n}, ${r.rate} call/s (${b.calls} calls traced, ${b.okCalls} of them successful; each step up to the ` +
      `caller's final response; unaccounted ${fmt(b.unaccountedMeanMs, 1)} ms on average):`,
    '',
    row(['step', 'p50 ms', 'p95 ms', 'mean ms', 'share of setup']),
    sep(5),
  ];
  for (const s of b.segments) {
    out.push(row([s.name, fmt(s.ms.p50, 1), fmt(s.ms.p95, 1), fmt(s.ms.mean, 1), `${fmt(100 * s.share)} %`]));
  }
  return out;
};

export const operationsTable = (r: StepResult): string[] => {
  const o = r.operations;
  if (!o) return [];
  const out = [
    `N = ${r.n}, ${r.rate} call/s — per successful call:`,
    '',
    row(['operation', 'per call', 'mean ms']),
    sep(3),
  ];
  for (const x of o.routes)
    out.push(row([`HTTP API ${x.route} → ${x.fn} (${x.system})`, fmt(x.perCall, 2), fmt(x.meanMs, 1)]));
  for (const x of o.workflowLambdas)
    out.push(row([`workflow Lambda ${x.state} (${x.system})`, fmt(x.perCall, 2), fmt(x.meanMs, 1)]));
  for (const x of o.dynamoByOp) {
    out.push(
      row([
        `DynamoDB ${x.op} (${x.system}), RRU ${fmt(x.rruPerCall, 1)} WRU ${fmt(x.wruPerCall, 1)}`,
        fmt(x.perCall, 2),
        '',
      ]),
    );
  }
  for (const [op, v] of Object.entries(o.sqsByOp)) out.push(row([`SQS ${op}`, fmt(v, 2), '']));
  for (const [op, v] of Object.entries(o.sfnApiByOp))
    out.push(row([`Step Functions API ${op}`, fmt(v, 2), '']));
  for (const x of o.controlByRoute)
    out.push(row([`edge control API ${x.route} (${x.system})`, fmt(x.perCall, 2), fmt(x.meanMs, 1)]));
  return out;
};

export const profileTable = (r: StepResult): string[] => {
  const p = r.profile;
  if (!p) return [];
  return [
    `CPU profile, N = ${r.n}, ${r.rate} call/s: ${fmt(p.busyMs / 1000, 2)} s busy; self time by place, then by function:`,
    '',
    row(['place', 'self ms', '%']),
    sep(3),
    ...p.byPlace.slice(0, 15).map((x) => row([x.name, fmt(x.ms), fmt(x.pct, 1)])),
    '',
    row(['function', 'self ms', '%']),
    sep(3),
    ...p.byFunction.slice(0, 15).map((x) => row([`\`${x.name}\``, fmt(x.ms), fmt(x.pct, 1)])),
  ];
};

/** The ours step whose operations price a size: the lowest rate with successful calls. */
export const costStep = (results: StepResult[], n: number): StepResult | undefined =>
  results
    .filter((r) => r.system === 'ours' && r.n === n && r.ok > 0 && r.operations)
    .sort((a, b) => a.rate - b.rate)[0];

export const costTable = (
  results: StepResult[],
): {
  lines: string[];
  costs: { n: number; rate: number | undefined; extrapolated?: true; cost: CostBreakdown }[];
} => {
  const sizes = [...new Set(results.filter((r) => r.system === 'ours').map((r) => r.n))];
  const head = [
    'N (from step)',
    'Lambda invocations',
    'Lambda GB-s measured / modeled',
    'state transitions',
    'SQS requests',
    'DynamoDB requests',
    'DynamoDB RRU / WRU',
    'HTTP API requests',
    'Lambda $ (requests + modeled duration)',
    'Step Functions $',
    'SQS $',
    'DynamoDB $',
    'API Gateway $',
    '**$ per million call setups** (modeled Lambda duration)',
    '$ per million, Lambda duration as measured locally',
  ];
  const lines = [row(head), sep(head.length)];
  const costs: { n: number; rate: number | undefined; extrapolated?: true; cost: CostBreakdown }[] = [];
  const measured = new Map<number, { rate: number; ops: CallOperations }>();
  for (const n of sizes) {
    const s = costStep(results, n);
    if (s?.operations) measured.set(n, { rate: s.rate, ops: s.operations.perCall });
  }
  for (const n of sizes) {
    let label: string;
    let ops: CallOperations;
    const m = measured.get(n);
    if (m) {
      label = `${n} (${m.rate}/s)`;
      ops = m.ops;
    } else {
      // No successful call at this size: every count is linear in N (per call + per member), so
      // extrapolate from the two largest measured sizes.
      const [a, b] = [...measured.keys()].sort((x, y) => y - x).slice(0, 2);
      const ma = a !== undefined ? measured.get(a) : undefined;
      const mb = b !== undefined ? measured.get(b) : undefined;
      if (a === undefined || b === undefined || !ma || !mb || a === b) continue;
      const line = (f: keyof CallOperations) => ma.ops[f] + ((ma.ops[f] - mb.ops[f]) / (a - b)) * (n - a);
      ops = {
        lambdaInvocations: line('lambdaInvocations'),
        lambdaBilledMs: line('lambdaBilledMs'),
        stateTransitions: line('stateTransitions'),
        sqsRequests: line('sqsRequests'),
        dynamoRequests: line('dynamoRequests'),
        readUnits: line('readUnits'),
        writeUnits: line('writeUnits'),
        apiRequests: line('apiRequests'),
      };
      label = `${n} (extrapolated from ${b} and ${a}: no successful call measured)`;
    }
    const c = costPerMillion(ops);
    costs.push({ n, rate: m?.rate, ...(m ? {} : { extrapolated: true as const }), cost: c });
    const modeledMs =
      ops.lambdaInvocations * DURATION_MODEL.computeMs + ops.dynamoRequests * DURATION_MODEL.dynamoRequestMs;
    lines.push(
      row([
        label,
        fmt(ops.lambdaInvocations, 1),
        `${fmt((ops.lambdaBilledMs / 1000) * PRICES.lambdaMemoryGb, 3)} / ${fmt((modeledMs / 1000) * PRICES.lambdaMemoryGb, 3)}`,
        fmt(ops.stateTransitions, 1),
        fmt(ops.sqsRequests, 1),
        fmt(ops.dynamoRequests, 1),
        `${fmt(ops.readUnits, 1)} / ${fmt(ops.writeUnits, 1)}`,
        fmt(ops.apiRequests, 1),
        fmt(c.lambdaRequests + c.lambdaDurationModeled, 0),
        fmt(c.stepFunctions, 0),
        fmt(c.sqs, 0),
        fmt(c.dynamoDb, 0),
        fmt(c.apiGateway, 0),
        `**${fmt(c.totalModeled, 0)}**`,
        fmt(c.total, 0),
      ]),
    );
  }
  return { lines, costs };
};

export const priceLines = (): string[] => [
  `Prices: ${PRICES.region}, on demand, checked ${PRICES.date} (scripts/bench/cost.ts): Lambda arm64 $${PRICES.lambdaArmPerGbSecond}/GB-s ` +
    `at ${PRICES.lambdaMemoryGb * 1024} MB and $${PRICES.lambdaPerMillionRequests}/M requests; Step Functions Standard ` +
    `$${PRICES.stepFunctionsStandardPerThousandTransitions}/1,000 transitions; SQS $${PRICES.sqsStandardPerMillionRequests}/M requests; ` +
    `DynamoDB $${PRICES.dynamoDbOnDemandPerMillionReadUnits}/M RRU, $${PRICES.dynamoDbOnDemandPerMillionWriteUnits}/M WRU; ` +
    `HTTP API $${PRICES.httpApiPerMillionRequests}/M requests. Not included: the SIP edge (Fargate + NLB, hourly), CloudWatch Logs ` +
    '(the state machine logs every state input/output), X-Ray, data transfer, free tiers.',
  `Modeled Lambda duration: ${DURATION_MODEL.computeMs} ms per invocation + ${DURATION_MODEL.dynamoRequestMs} ms per DynamoDB ` +
    "request (one after the other). The measured durations are wall times in the system's local process, where its " +
    'functions, emulators and edge share one event loop: above a few calls in flight they are mostly queueing, not what ' +
    'Lambda would bill.',
];

export interface Goal {
  text: string;
  status: 'MET' | 'NOT MET' | 'not measured';
  detail: string;
}

export const goals = (results: StepResult[]): Goal[] => {
  const ours = results.filter((r) => r.system === 'ours');
  const p95Goal = (n: number, rate: number, limit: number): Goal => {
    const r = ours.find((x) => x.n === n && x.rate === rate);
    const text = `N=${n} at ${rate} call/s: p95 ≤ ${limit} ms`;
    if (!r) return { text, status: 'not measured', detail: 'step not run' };
    const met = r.ok > 0 && r.failed === 0 && r.setupMs.p95 <= limit;
    return {
      text,
      status: met ? 'MET' : 'NOT MET',
      detail: `p95 ${fmt(r.setupMs.p95)} ms, ${r.failed} failed of ${r.calls}`,
    };
  };
  // Zero failed calls is asked of the goals' own steps (and of any 5-minute run); a step offered above
  // the systems' capacity (it saturates) is a capacity figure, reported beside it, not a goal.
  const isGoalStep = (r: StepResult) =>
    (r.n === 100 && r.rate === 5) || (r.n === 1000 && r.rate === 1) || r.wallS >= 300;
  const goalSteps = ours.filter(isGoalStep);
  const failed = goalSteps.reduce((a, r) => a + r.failed, 0);
  const beyond = ours.filter((r) => !isGoalStep(r) && r.failed > 0);
  const long = ours.filter((r) => r.wallS >= 300 && r.failed === 0);
  return [
    p95Goal(100, 5, 300),
    p95Goal(1000, 1, 1000),
    {
      text: 'zero failed calls (the steps above and any 5-minute step)',
      status: goalSteps.length === 0 ? 'not measured' : failed === 0 ? 'MET' : 'NOT MET',
      detail:
        `${failed} failed of ${goalSteps.reduce((a, r) => a + r.calls, 0)}` +
        (beyond.length > 0
          ? `; beyond capacity: ${beyond.map((r) => `N=${r.n} ${r.rate}/s ${r.failed} of ${r.calls} failed`).join(', ')}`
          : ''),
    },
    {
      text: 'RSS flat over a 5-minute run (grows ≤ 1 MiB/min: over the whole run after a warm-up of 60 s or more, else over its second half)',
      status:
        long.length === 0 ? 'not measured' : long.every((r) => r.rssSlopeMiBPerMin <= 1) ? 'MET' : 'NOT MET',
      detail:
        long.length === 0
          ? 'no step of 5 minutes without failures (e.g. npm run bench -- --sizes 100 --rates 1 --duration 300)'
          : long
              .map(
                (r) =>
                  `N=${r.n} ${r.rate}/s: ${fmt(r.rssSlopeMiBPerMin, 1)} MiB/min over the ${r.rssSlopeOver}` +
                  (r.warmup
                    ? ` after a ${r.warmup.seconds}-s warm-up (${r.warmup.ok}/${r.warmup.calls} ok)`
                    : ''),
              )
              .join('; '),
    },
  ];
};

export const writeResults = (
  stamp: string,
  json: unknown,
  markdown: string[],
): { json: string; md: string } => {
  const dir = resolve('bench/results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `regroup-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${markdown.join('\n')}\n`);
  return { json: `${base}.json`, md: `${base}.md` };
};
