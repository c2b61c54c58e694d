/**
 * `npm run bench`: group calls on a temporary group across two local MCPTT systems, at several group
 * sizes and call rates; prints figures (not a test) and writes them under bench/results/.
 *
 * 1. Starts the member pool in a child process (scripts/bench/member-pool.ts: light SIP user agents
 *    multiplexed on a few UDP sockets, answering INVITEs with 200 at once). Then, per size N, on
 *    freshly started systems: generates a configuration (scripts/bench/config.ts: one group on each
 *    system with half of the N members, a caller, a dispatcher, the agreement), starts the local
 *    systems from it in another child process (scripts/bench/server.ts: what `npm start --
 *    --config FILE --memory` runs, plus operation counters); every member REGISTERs with digest and
 *    PUBLISHes its affiliation; the dispatcher regroups the two groups into a temporary group.
 * 2. Per N and rate: the caller (this process, scripts/bench/caller.ts) calls the TGI at that rate
 *    for `--duration` seconds. Per step: INVITE → final response at the caller (p50/p95/p99/max),
 *    calls ok/failed, member legs per second, the systems' CPU seconds per call and peak RSS, and the
 *    time of every step of the call setup (scripts/bench/analysis.ts), so the slowest is named.
 * 3. `--with-baseline`: Kamailio as registrar and parallel-forking proxy to the same N members
 *    (scripts/bench/kamailio.ts), same pool, same rates; ratios ours/Kamailio.
 * 4. Cost per million call setups from the operations counted per call (scripts/bench/cost.ts).
 *
 *   npm run bench -- [--with-baseline] [--sizes 10,100,1000] [--rates 1,5,20] [--duration 20]
 *     [--quick] [--commencement all|first] [--only ours|kamailio] [--profile] [--no-save]
 *
 * Everything binds 127.0.0.1 on free ports (never the `npm start` defaults); every child process is
 * killed at the end, on error and on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EDGE_NODE_FLAGS } from '../lib/edge-config.ts';
import { breakdown, diff, operations } from './bench/analysis.ts';
import { Caller, type CallRecord } from './bench/caller.ts';
import {
  distribution,
  fmt,
  freePort,
  HOST,
  IpcPeer,
  killAllChildren,
  othersCpuSeconds,
  processSnapshot,
  sleep,
  spawnTs,
  stopChild,
  treeCpuSeconds,
  treePss,
} from './bench/common.ts';
import { type BenchPlan, generatePlan, PARTNER, PRIMARY, split } from './bench/config.ts';
import {
  ensureInstalled,
  forkTree,
  type KamailioHandle,
  kamailioVersion,
  startKamailio,
} from './bench/kamailio.ts';
import type { PoolStats, RegistrationItem } from './bench/member-pool.ts';
import {
  breakdownTable,
  costStep,
  costTable,
  goals,
  mainTable,
  mib,
  operationsTable,
  priceLines,
  profileTable,
  ratioTable,
  type StepResult,
  writeResults,
} from './bench/report.ts';
import type { ExecutionTrace } from './bench/server.ts';
import { bundleServer } from './bench/server-bundle.ts';
import { SystemsGroup } from './bench/systems-group.ts';

// ---------------------------------------------------------------- options

const USAGE = `usage: npm run bench -- [options]
  --with-baseline        also run the Kamailio baseline (installs kamailio with apt-get if missing)
  --sizes 10,100,1000    group sizes N (members invited per call)
  --rates 1,5,20         call rates, calls per second
  --duration 20          seconds of calls per size and rate
  --warmup 0             seconds of calls at the step's rate before each step of ours, not measured
                         (its calls are reported apart); with 60 s or more the RSS slope is fitted to
                         the whole step, which then starts in the steady state
  --quick                N=10, 1 call/s, 5 s (a smoke run)
  --commencement all     the caller's 200 waits for all N members (default) or the first (first)
  --only ours|kamailio   run one side only (kamailio implies --with-baseline)
  --profile              CPU profile of the systems' processes during each step of ours (slows them a little)
  --heap-snapshot DIR    after each step of ours, a V8 heap snapshot of each systems process into DIR
  --memory               the systems' tables in memory (default: on disk in the run's temporary folder,
                         as npm start keeps them; in memory, stored calls count in the systems' RSS)
  --heap-mb 1024         V8 old-generation limit of each systems process, as a 2 GiB container would
                         set it (0: V8's default, sized from this machine's memory)
  --tables-in-process    each system's table (dynalite) in a worker thread of the system's process, as
                         npm start runs it (default: in a process of its own, as DynamoDB is a service
                         outside the functions; its CPU counts in the systems', its RSS is shown apart)
  --node-flags="…"       more node/V8 flags for the systems' processes, e.g. --node-flags=--heap-growing-percent=50
  --one-process          both local systems in one process (default: each in its own, as deployed)
  --tsx                  run the systems' sources through the tsx loader (default: bundled by esbuild,
                         as deployed; tsx's keepNames adds a property dictionary to every closure)
  --no-save              do not write bench/results/
  --help`;

const numbers = (text: string, what: string): number[] => {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n <= 0))
    throw new Error(`${what}: ${text}`);
  return list;
};

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        'with-baseline': { type: 'boolean' },
        sizes: { type: 'string' },
        rates: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        quick: { type: 'boolean' },
        commencement: { type: 'string' },
        'no-save': { type: 'boolean' },
        profile: { type: 'boolean' },
        'one-process': { type: 'boolean' },
        tsx: { type: 'boolean' },
        memory: { type: 'boolean' },
        'tables-in-process': { type: 'boolean' },
        'node-flags': { type: 'string' },
        'heap-mb': { type: 'string' },
        'heap-snapshot': { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}
const quick = parsed.quick ?? false;
const only = parsed.only as 'ours' | 'kamailio' | undefined;
if (only !== undefined && only !== 'ours' && only !== 'kamailio') throw new Error('--only: ours or kamailio');
const opts = {
  only,
  withBaseline: (parsed['with-baseline'] ?? false) || only === 'kamailio',
  sizes: numbers(parsed.sizes ?? (quick ? '10' : '10,100,1000'), '--sizes').map(Math.round),
  rates: numbers(parsed.rates ?? (quick ? '1' : '1,5,20'), '--rates'),
  durationS: Number(parsed.duration ?? (quick ? 5 : 20)),
  warmupS: Number(parsed.warmup ?? 0),
  commencement: (parsed.commencement ?? 'all') as 'all' | 'first',
  save: !(parsed['no-save'] ?? false),
  profile: parsed.profile ?? false,
  oneProcess: parsed['one-process'] ?? false,
  tsx: parsed.tsx ?? false,
  memory: parsed.memory ?? false,
  tablesInProcess: parsed['tables-in-process'] ?? false,
  nodeFlags: (parsed['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
  heapMb: Number(parsed['heap-mb'] ?? 1024),
  heapSnapshotDir: parsed['heap-snapshot'],
  /** Unmeasured calls (one after the other) before the first step of each size. */
  warmupCalls: (n: number) => (n <= 10 ? 3 : n <= 100 ? 2 : 1),
};
if (opts.sizes.some((n) => n < 2))
  throw new Error('--sizes: each N must be at least 2 (one member per system)');
if (!(opts.durationS > 0 && opts.durationS <= 600)) throw new Error('--duration must be in 1..600');
if (!(opts.warmupS >= 0 && opts.warmupS <= 600)) throw new Error('--warmup must be in 0..600');
if (opts.commencement !== 'all' && opts.commencement !== 'first')
  throw new Error('--commencement: all or first');

const work = mkdtempSync(join(tmpdir(), 'bench-regroup-'));
const cleanup = () => {
  killAllChildren();
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the benchmark`);
    cleanup();
    process.exit(130);
  });
}

const results: StepResult[] = [];
const log = (line: string) => console.log(line);
const elapsed = (() => {
  const t0 = Date.now();
  return () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
})();

// ---------------------------------------------------------------- helpers

/** The ports of `npm start` (config/demo.json): never used here. */
const DEFAULT_PORTS = new Set([5060, 5070, 8060, 8061, 8070, 8071]);

const http = async (
  url: string,
  method: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
};

const failureKey = (r: CallRecord): string =>
  r.status !== undefined
    ? `${r.status} ${r.reason ?? ''}${r.warning ? ` (${r.warning})` : ''}`.trim()
    : (r.reason ?? 'timeout');

const summarizeCalls = (records: CallRecord[]) => {
  const ok = records.filter((r) => r.ok);
  const failures: Record<string, number> = {};
  for (const r of records.filter((x) => !x.ok)) failures[failureKey(r)] = (failures[failureKey(r)] ?? 0) + 1;
  const firstSent = Math.min(...records.map((r) => r.sentAt));
  const lastFinal = Math.max(...records.map((r) => r.sentAt + (r.finalMs ?? 0)));
  return {
    ok,
    failures,
    busyS: records.length > 0 ? (lastFinal - firstSent) / 1000 : Number.NaN,
    setupMs: distribution(ok.map((r) => r.finalMs ?? Number.NaN)),
    retransmissions: records.reduce((a, r) => a + r.retransmissions, 0),
    challenged: records.filter((r) => r.challenged).length,
  };
};

/**
 * The figures both systems' step results share: the calls and their outcomes, the setup latency, the
 * member legs the pool received and the CPU the system used, per call placed.
 */
const callFigures = (
  run: { records: CallRecord[]; saturated: string | undefined; offeredS: number },
  n: number,
  pool: { p0: PoolStats; p1: PoolStats },
  cpuS: number,
) => {
  const calls = summarizeCalls(run.records);
  const invites = pool.p1.invites - pool.p0.invites;
  return {
    calls: run.records.length,
    ok: calls.ok.length,
    failed: run.records.length - calls.ok.length,
    failures: calls.failures,
    ...(run.saturated ? { saturated: run.saturated } : {}),
    setupMs: calls.setupMs,
    legsPerS: invites / calls.busyS,
    memberInvites: invites,
    expectedLegs: run.records.length * n,
    memberInviteRetransmissions: pool.p1.inviteRetransmissions - pool.p0.inviteRetransmissions,
    serverCpuS: cpuS,
    cpuPerCallS: cpuS / Math.max(1, run.records.length),
    callerRetransmissions: calls.retransmissions,
    challenged: calls.challenged,
  };
};

/** What went wrong at the members during a step, if anything. */
const poolIssues = (p0: PoolStats, p1: PoolStats): { poolIssues?: string } => {
  const unparseable = p1.unparseable - p0.unparseable;
  const unknown = p1.unknownUser - p0.unknownUser;
  const sendErrors = p1.sendErrors - p0.sendErrors;
  const again = p1.finalRetransmissions - p0.finalRetransmissions;
  const unacked = p1.finalsUnacknowledged - p0.finalsUnacknowledged;
  if (unparseable + unknown + sendErrors + again + unacked === 0) return {};
  return {
    poolIssues:
      `${again} final responses retransmitted (ACK late or lost), ${unacked} never ACKed, ` +
      `${unparseable} unparseable, ${unknown} to unknown users, ${sendErrors} send errors` +
      (unparseable > 0 && p1.lastUnparseable ? `; last unparseable: ${p1.lastUnparseable}` : ''),
  };
};

/**
 * A step whose warm-up filled the systems' 60-s windows (leg records, call passes, finished executions)
 * starts in the steady state: its RSS slope is fitted to all of it. Otherwise to its second half.
 */
const STEADY_WARMUP_S = 60;

/** RSS growth over a step's samples (one a second; all, or the second half), MiB per minute (least squares). */
const rssSlope = (samples: number[], whole: boolean): number => {
  const ys = samples.slice(whole ? 0 : Math.floor(samples.length / 2)).map(mib);
  if (ys.length < 5) return Number.NaN;
  const mx = (ys.length - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return (num / den) * 60;
};

/**
 * For a step of a minute or more: each process's RSS, committed V8 heap and V8 heap in use at the
 * start, the middle and the end of the step (from the memory trace), to see what grows.
 */
const memoryLines = (r: StepResult): string[] => {
  const trace = r.memoryTrace ?? [];
  const last = trace[trace.length - 1];
  if (!last || last.atS < 60) return [];
  const marks = [trace[0], trace[Math.floor((trace.length - 1) / 2)], last];
  return last.processes.map((p) => {
    const of = (k: 'rss' | 'heapTotal' | 'heapUsed') =>
      marks.map((m) => fmt(m?.processes.find((q) => q.system === p.system)?.[k] ?? Number.NaN)).join('/');
    return (
      `memory ${p.system} at ${marks.map((m) => `${m?.atS ?? '?'} s`).join('/')}: RSS ${of('rss')}, ` +
      `V8 heap committed ${of('heapTotal')}, in use ${of('heapUsed')} MiB`
    );
  });
};

/** The RSS figures of a step from its samples (bytes, one a second): start, end, slope, the samples. */
const rssFigures = (
  samples: number[],
  warmupS: number,
): Pick<StepResult, 'rssStartMiB' | 'rssEndMiB' | 'rssSlopeMiBPerMin' | 'rssSlopeOver' | 'rssSamplesMiB'> => {
  const whole = warmupS >= STEADY_WARMUP_S;
  return {
    rssStartMiB: mib(samples[0] ?? Number.NaN),
    rssEndMiB: mib(samples[samples.length - 1] ?? Number.NaN),
    rssSlopeMiBPerMin: rssSlope(samples, whole),
    rssSlopeOver: whole ? 'whole step' : 'second half',
    rssSamplesMiB: samples.map((b) => Math.round(mib(b) * 10) / 10),
  };
};

/**
 * Runs `task` every `ms`, one run after the other (a slow run delays the next, never overlaps it);
 * `stop()` ends the schedule and waits for the run in progress.
 */
const periodically = (ms: number, task: () => Promise<void>) => {
  let chain = Promise.resolve();
  const timer = setInterval(() => {
    chain = chain.then(task);
  }, ms);
  return {
    stop: async () => {
      clearInterval(timer);
      await chain;
    },
  };
};

/** RSS sampled once a second during a step. */
const sampleRss = (read: () => number) => {
  const samples: number[] = [read()];
  const timer = setInterval(() => samples.push(read()), 1000);
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(read());
      return samples;
    },
  };
};

const printStep = (r: StepResult) => {
  const f = Object.entries(r.failures)
    .map(([k, v]) => `${v}× ${k}`)
    .join('; ');
  log(
    `  ${r.system.padEnd(8)} N=${String(r.n).padEnd(5)} ${String(r.rate).padStart(3)}/s: ${r.ok}/${r.calls} ok` +
      `${r.failed ? ` (${f})` : ''}, setup p50/p95/p99/max ${fmt(r.setupMs.p50)}/${fmt(r.setupMs.p95)}/` +
      `${fmt(r.setupMs.p99)}/${fmt(r.setupMs.max)} ms` +
      (r.firstMemberMs ? `, first member p50 ${fmt(r.firstMemberMs.p50)} ms` : '') +
      `, ${fmt(r.legsPerS)} legs/s (${r.memberInvites}/${r.expectedLegs} INVITEs reached the members), CPU ${fmt(r.cpuPerCallS, 3)} s/call, RSS ${fmt(r.rssStartMiB)}→${fmt(r.rssEndMiB)} MiB ` +
      `(peak ${fmt(r.peakRssMiB)}${Number.isFinite(r.rssSlopeMiBPerMin) ? `, ${fmt(r.rssSlopeMiBPerMin, 1)} MiB/min over the ${r.rssSlopeOver}` : ''}` +
      `${r.heapAfterGcMiB !== undefined ? `; heap after a full GC ${fmt(r.heapAfterGcMiB)} MiB, external ${fmt(r.externalAfterGcMiB ?? Number.NaN)} MiB` : ''}` +
      `${r.tableRssMiB ? `; tables' processes ${fmt(r.tableRssMiB.start)}→${fmt(r.tableRssMiB.end)} MiB` : ''}), ` +
      `pool CPU ${fmt(r.poolCpuS, 1)} s [${elapsed()}]`,
  );
  if (r.saturated) log(`    saturated: ${r.saturated}`);
  for (const line of memoryLines(r)) log(`    ${line}`);
  if (r.poolIssues) log(`    member pool: ${r.poolIssues}`);
  if (r.othersCpuS > 0.1 * r.wallS) {
    log(
      `    WARNING: other processes on this machine used ${fmt(r.othersCpuS, 1)} CPU s during this step ` +
        `(${fmt((100 * r.othersCpuS) / r.wallS)} % of a core): figures disturbed`,
    );
  }
  if (r.breakdown?.slowest) {
    log(
      `    slowest step: ${r.breakdown.slowest.name} — mean ${fmt(r.breakdown.slowest.meanMs)} ms ` +
        `(${fmt(100 * r.breakdown.slowest.share)} % of the setup)`,
    );
  }
  if (r.profile) {
    log(
      `    CPU profile (${fmt(r.profile.busyMs / 1000, 1)} s busy): ` +
        r.profile.byPlace
          .slice(0, 8)
          .map((p) => `${p.name} ${fmt(p.pct)} %`)
          .join(', '),
    );
  }
  if (r.serverErrors > 0) {
    log(`    ${r.serverErrors} server error/warning lines, e.g.:`);
    for (const l of r.serverErrorLines.slice(0, 3)) log(`      ${l.slice(0, 300)}`);
  }
};

// ---------------------------------------------------------------- ours

interface OursContext {
  plan: BenchPlan;
  server: SystemsGroup;
  pool: IpcPeer;
  caller: Caller;
}

const waitIdle = async (server: SystemsGroup, maxMs = 40_000): Promise<void> => {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const s = await server.snapshot();
    const running = Object.values(s.executions).reduce((a, e) => a + e.running, 0);
    const held = Object.values(s.edges).reduce((a, e) => a + e.held, 0);
    if ((running === 0 && held === 0) || Date.now() > deadline) return;
    await sleep(250);
  }
};

/**
 * Calls at the step's rate for --warmup seconds before the step, not measured: the step then starts
 * with the systems' windows full, as in service. The step follows at once (no wait for idle), so the
 * warm-up's calls are still ending as it starts, as the calls before any minute of service are.
 */
const warmUp = async (
  c: OursContext,
  size: BenchPlan['sizes'][number],
  rate: number,
): Promise<NonNullable<StepResult['warmup']>> => {
  await c.caller.register();
  const run = await c.caller.run(size.tgi, rate, opts.warmupS);
  const calls = run.records.length;
  const ok = run.records.filter((r) => r.ok).length;
  log(`  warm-up N=${size.n} ${rate}/s: ${ok}/${calls} ok in ${opts.warmupS} s (not measured)`);
  return { seconds: opts.warmupS, calls, ok };
};

const stepOurs = async (
  c: OursContext,
  size: BenchPlan['sizes'][number],
  rate: number,
): Promise<StepResult> => {
  await waitIdle(c.server);
  const warmup = opts.warmupS > 0 ? await warmUp(c, size, rate) : undefined;
  await c.server.executions(); // drop the traces of earlier calls
  await c.caller.register(); // a fresh nonce for the step's INVITEs
  const s0 = await c.server.snapshot();
  const { stats: p0 } = await c.pool.request<{ stats: PoolStats }>('stats');
  const cpu0 = c.server.cpuSeconds();
  const others0 = processSnapshot();
  c.server.resetPeakRss();
  const rss = sampleRss(() => c.server.rss());
  const tableRss0 = c.server.tableRss();
  if (opts.profile) await c.server.profileStart();
  const wall0 = performance.now();

  // The traces of ended executions are collected every 20 s during the step: held in the systems'
  // processes until the end, they would count as growth of the systems' RSS (about 2 KB a call).
  const traced: ExecutionTrace[] = [];
  const collector = periodically(20_000, async () => {
    traced.push(...(await c.server.executions().catch(() => [])));
  });
  const memoryTrace: NonNullable<StepResult['memoryTrace']> = [];
  const sampleMemory = async () => {
    const atS = Math.round((performance.now() - wall0) / 1000);
    const all = await c.server.memory().catch(() => []);
    memoryTrace.push({
      atS,
      processes: all.map((m) => ({
        system: m.system,
        rss: mib(m.rss),
        heapTotal: mib(m.heapTotal),
        heapUsed: mib(m.heapUsed),
        external: mib(m.external),
        spaces: Object.fromEntries(Object.entries(m.spaces).map(([k, v]) => [k, mib(v)])),
      })),
    });
  };
  await sampleMemory();
  const memorySampler = periodically(10_000, sampleMemory);
  const run = await c.caller.run(size.tgi, rate, opts.durationS);
  await collector.stop();
  await memorySampler.stop();
  await sampleMemory();

  const profile = opts.profile ? await c.server.profileStop() : undefined;
  const rssSamples = rss.stop();
  const wallS = (performance.now() - wall0) / 1000;
  const cpu1 = c.server.cpuSeconds();
  const othersCpuS = othersCpuSeconds(others0, processSnapshot());
  const peak = c.server.peakRss();
  const s1 = await c.server.snapshot();
  const { stats: p1 } = await c.pool.request<{ stats: PoolStats }>('stats');
  const executions = [...traced, ...(await c.server.executions())];
  // After the measurements: a full GC, then what the processes still hold.
  const heap = await c.server.heapAfterGc();
  if (opts.heapSnapshotDir) {
    mkdirSync(opts.heapSnapshotDir, { recursive: true });
    for (const f of await c.server.heapSnapshots(resolve(opts.heapSnapshotDir)))
      log(`    heap snapshot: ${f}`);
  }
  const d = diff(s0, s1);
  const b = breakdown(run.records, executions);
  const figures = callFigures(run, size.n, { p0, p1 }, cpu1 - cpu0);
  return {
    system: 'ours',
    n: size.n,
    rate,
    offeredS: run.offeredS,
    wallS,
    ...figures,
    ...rssFigures(rssSamples, warmup?.seconds ?? 0),
    ...(warmup ? { warmup } : {}),
    memoryTrace,
    heapAfterGcMiB: mib(heap.heapUsed),
    externalAfterGcMiB: mib(heap.external),
    peakRssMiB: mib(peak),
    ...(c.server.tablePids.length > 0
      ? { tableRssMiB: { start: mib(tableRss0), end: mib(c.server.tableRss()) } }
      : {}),
    poolCpuS: (p1.cpuUs - p0.cpuUs) / 1e6,
    ...poolIssues(p0, p1),
    othersCpuS,
    serverErrors: d.errorLines,
    serverErrorLines: s1.lastErrors,
    loopDelay: s1.loopDelay,
    edges: s1.edges,
    breakdown: b,
    operations: operations(d, figures.ok, b.interrogations),
    ...(profile ? { profile } : {}),
  };
};

/** Ports for one start of the systems (never the `npm start` ones, never one handed out before). */
const portsTaken = new Set(DEFAULT_PORTS);
const newPort = async (): Promise<number> => {
  const p = await freePort(portsTaken);
  portsTaken.add(p);
  return p;
};

const planFor = async (sizes: number[]): Promise<BenchPlan> => {
  const plan = generatePlan({
    sizes,
    ports: {
      primaryHttp: await newPort(),
      primarySip: await newPort(),
      partnerHttp: await newPort(),
      partnerSip: await newPort(),
    },
    commencement: opts.commencement,
  });
  for (const s of plan.config.systems) s.sip.controlPort = await newPort();
  return plan;
};

/**
 * Ours, one size after the other, each on freshly started systems (what one size leaves behind —
 * memory, live legs, a backlog after a saturated rate — does not weigh on the next).
 */
const runOurs = async (all: BenchPlan, pool: IpcPeer): Promise<void> => {
  // The systems run as deployed: bundled by esbuild (scripts/bench/server-bundle.ts), unless --tsx.
  const serverBundle = opts.tsx ? undefined : await bundleServer();
  const indexOf = new Map(all.members.map((m, i) => [m.user, i]));
  for (const n of opts.sizes) {
    const plan = await planFor([n]);
    const size = plan.sizes[0] as BenchPlan['sizes'][number];
    const configFile = join(work, `bench-config-${n}.json`);
    writeFileSync(configFile, `${JSON.stringify(plan.config, null, 2)}\n`);
    const started = Date.now();
    const server = await SystemsGroup.start(
      configFile,
      opts.oneProcess ? [undefined] : plan.config.systems.map((s) => s.domain),
      {
        ...(opts.memory ? {} : { dataDir: join(work, `data-${n}`) }),
        heapMb: opts.heapMb,
        tablesApart: !opts.tablesInProcess,
        nodeFlags: opts.nodeFlags,
        ...(serverBundle ? { bundle: serverBundle } : {}),
      },
    );
    try {
      const sys = (d: string) => server.system(d);
      log(
        `\nours N=${n}: local systems up in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
          `(${opts.oneProcess ? 'one process' : 'one process each'}, ${serverBundle ? 'bundled' : 'sources through tsx'}, tables ${opts.memory ? 'in memory' : 'on disk'}${server.tablePids.length > 0 ? ` in their own processes (pid ${server.tablePids.join(', ')})` : ''}, heap limit ${opts.heapMb || 'default'} MB, pid ${server.pids.join(', ')}; ` +
          `${plan.members.length + 3} users seeded in ${(server.seedMs / 1000).toFixed(1)} s)`,
      );
      // Members: REGISTER with digest, PUBLISH affiliations.
      const items: RegistrationItem[] = plan.members.map((m) => ({
        member: indexOf.get(m.user) as number,
        aor: { user: m.user, domain: m.domain },
        registrar: { host: HOST, port: sys(m.domain).sipPort },
        password: m.password,
        publishGroups: m.groups,
      }));
      const reg = await pool.request<{ ok: number; failed: number; failures: string[]; ms: number }>(
        'register',
        { items, concurrency: 16 },
        600_000,
      );
      log(
        `  members registered and affiliated: ${reg.ok}/${items.length} in ${(reg.ms / 1000).toFixed(1)} s` +
          (reg.failed ? ` — failures: ${reg.failures.join('; ')}` : ''),
      );
      if (reg.failed > 0) throw new Error('member registration failed');
      const caller = new Caller({
        mode: 'ours',
        target: { host: HOST, port: sys(PRIMARY).sipPort },
        user: plan.caller.user,
        domain: PRIMARY,
        password: plan.caller.password,
      });
      await caller.start();
      await caller.register(plan.caller.groups);

      // The dispatcher regroups the two groups.
      const primaryUrl = sys(PRIMARY).url;
      const login = await http(`${primaryUrl}/auth/token`, 'POST', {
        username: plan.dispatcher.user,
        password: plan.dispatcher.password,
      });
      const t0 = Date.now();
      const res = await http(
        `${primaryUrl}/regroups`,
        'POST',
        { constituents: [size.primaryGroup, `${size.partnerGroup}@${PARTNER}`], name: size.tgiName },
        String(login.body.token ?? ''),
      );
      if (res.status !== 201)
        throw new Error(`regroup for N=${n}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      log(
        `  regrouped ${size.primaryGroup} + ${size.partnerGroup}@${PARTNER} into ${size.tgi} (${Date.now() - t0} ms)`,
      );
      await sleep(1000); // regroup notices (SIP MESSAGE) to the members

      const ctx: OursContext = { plan, server, pool, caller };
      const warm = await caller.sequential(size.tgi, opts.warmupCalls(n));
      log(
        `  warm-up: ${warm.records.filter((r) => r.ok).length}/${warm.records.length} ok ` +
          `(${warm.records.map((r) => `${fmt(r.finalMs)} ms${r.ok ? '' : ` ${failureKey(r)}`}`).join(', ')})`,
      );
      let saturatedAt: number | undefined;
      for (const rate of opts.rates) {
        if (saturatedAt !== undefined) {
          log(`  ours     N=${n} ${rate}/s: skipped (saturated at ${saturatedAt}/s)`);
          continue;
        }
        const r = await stepOurs(ctx, size, rate);
        results.push(r);
        printStep(r);
        if (r.saturated || (r.failed > 0 && r.failed >= r.calls / 2)) saturatedAt = rate;
      }
      caller.close();
    } finally {
      await server.stop();
      await pool.request('forget').catch(() => undefined);
    }
  }
};

// ---------------------------------------------------------------- baseline

const runBaseline = async (plan: BenchPlan, pool: IpcPeer): Promise<void> => {
  const port = await newPort();
  const kam: KamailioHandle = await startKamailio(port, join(work, 'kamailio'));
  try {
    await pool.request('mode', { mode: 'ring-busy' });
    // The same members: pm… (primary) and qm… (partner) of each size, in a fork tree per size.
    const indexOf = new Map(plan.members.map((m, i) => [m.user, i]));
    const items: RegistrationItem[] = [];
    const trees: Record<number, number> = {};
    for (const s of plan.sizes) {
      const { primary, partner } = split(s.n);
      const members = [
        ...Array.from({ length: primary }, (_, i) => indexOf.get(`pm${String(i + 1).padStart(4, '0')}`)),
        ...Array.from({ length: partner }, (_, i) => indexOf.get(`qm${String(i + 1).padStart(4, '0')}`)),
      ].filter((x): x is number => x !== undefined);
      const tree = forkTree(`k${s.n}`, members, port);
      trees[s.n] = tree.levels;
      for (const r of tree.registrations) {
        items.push({
          ...(r.member !== undefined ? { member: r.member } : {}),
          ...(r.contact !== undefined ? { contact: r.contact } : {}),
          aor: { user: r.aor, domain: 'bench.kamailio' },
          registrar: { host: HOST, port },
        });
      }
    }
    const reg = await pool.request<{ ok: number; failed: number; failures: string[]; ms: number }>(
      'register',
      { items, concurrency: 32 },
      600_000,
    );
    log(
      `Kamailio (${kamailioVersion()}) on ${HOST}:${port}: ${reg.ok}/${items.length} registrations in ` +
        `${(reg.ms / 1000).toFixed(1)} s; fork levels ${Object.entries(trees)
          .map(([n, l]) => `N=${n}: ${l}`)
          .join(', ')}` +
        (reg.failed ? ` — failures: ${reg.failures.join('; ')}` : ''),
    );
    const caller = new Caller({
      mode: 'kamailio',
      target: { host: HOST, port },
      user: 'caller',
      domain: 'bench.kamailio',
    });
    await caller.start();
    for (const size of plan.sizes) {
      const uri = `sip:k${size.n}@${HOST}:${port}`;
      const warm = await caller.sequential(uri, opts.warmupCalls(size.n));
      log(
        `kamailio N=${size.n}: warm-up ${warm.records.filter((r) => r.ok).length}/${warm.records.length} ok`,
      );
      let saturatedAt: number | undefined;
      for (const rate of opts.rates) {
        if (saturatedAt !== undefined) {
          log(`  kamailio N=${size.n} ${rate}/s: skipped (saturated at ${saturatedAt}/s)`);
          continue;
        }
        await sleep(1000);
        const { stats: p0 } = await pool.request<{ stats: PoolStats }>('stats');
        const cpu0 = treeCpuSeconds(kam.pid);
        const others0 = processSnapshot();
        const diag0 = kam.diagnostics().count;
        const pss = sampleRss(() => treePss(kam.pid));
        const wall0 = performance.now();
        const run = await caller.run(uri, rate, opts.durationS);
        const samples = pss.stop();
        const wallS = (performance.now() - wall0) / 1000;
        const cpu1 = treeCpuSeconds(kam.pid);
        const othersCpuS = othersCpuSeconds(others0, processSnapshot(), [kam.pid]);
        const diag = kam.diagnostics();
        const { stats: p1 } = await pool.request<{ stats: PoolStats }>('stats');
        const r: StepResult = {
          system: 'kamailio',
          n: size.n,
          rate,
          offeredS: run.offeredS,
          wallS,
          ...callFigures(run, size.n, { p0, p1 }, cpu1 - cpu0),
          firstMemberMs: distribution(
            run.records.filter((x) => x.ok).map((x) => x.firstRingMs ?? Number.NaN),
          ),
          ...rssFigures(samples, 0),
          peakRssMiB: mib(Math.max(...samples)),
          poolCpuS: (p1.cpuUs - p0.cpuUs) / 1e6,
          ...poolIssues(p0, p1),
          othersCpuS,
          serverErrors: diag.count - diag0,
          serverErrorLines: diag.lines,
        };
        results.push(r);
        printStep(r);
        if (r.saturated || (r.failed > 0 && r.failed >= r.calls / 2)) saturatedAt = rate;
      }
    }
    caller.close();
  } finally {
    await kam.stop();
  }
};

// ---------------------------------------------------------------- main

const main = async () => {
  const startedAt = new Date();
  const env = {
    date: startedAt.toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverageAtStart: loadavg(),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim(),
    /** Files of the working tree that differ from the commit (the code measured is the working tree). */
    modifiedFiles: (
      spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout ?? ''
    )
      .split('\n')
      .filter((l) => l.trim()).length,
    kamailio: undefined as string | undefined,
  };
  log(
    `bench — ${env.cpus} × ${env.cpuModel}, Node ${env.node}, commit ${env.commit}\n` +
      `sizes ${opts.sizes.join(', ')}; rates ${opts.rates.join(', ')} calls/s; ${opts.durationS} s per step; ` +
      `commencement: ${opts.commencement === 'all' ? 'all N members' : 'first member'}; baseline: ${opts.withBaseline ? 'Kamailio' : 'no (--with-baseline)'}`,
  );
  if (opts.withBaseline) {
    ensureInstalled([{ command: 'kamailio', pkg: 'kamailio' }]);
    env.kamailio = kamailioVersion();
  }
  // All sizes: the members of the pool (and of the Kamailio baseline).
  const plan = await planFor(opts.sizes);

  const poolChild = spawnTs('scripts/bench/member-pool.ts');
  const pool = new IpcPeer(poolChild, 'member pool');
  await pool.waitFor((m) => m.type === 'ready', 60_000);
  await pool.request('init', { sockets: 8, users: plan.members.map((m) => m.user), mode: 'ok' });
  try {
    if (opts.only !== 'kamailio') await runOurs(plan, pool);
    if (opts.withBaseline && opts.only !== 'ours') {
      log('\nbaseline: Kamailio registrar + stateful parallel-forking proxy, same members');
      await runBaseline(plan, pool);
    }
  } finally {
    await pool.request('stop', {}, 5000).catch(() => undefined);
    await stopChild(poolChild);
  }

  // ---------------------------------------------------------------- report
  const loadAtEnd = loadavg();
  const md: string[] = [];
  const out = (lines: string[] = []) => {
    for (const l of lines) log(l);
    md.push(...lines);
  };
  const header = [
    `# Group call benchmark (npm run bench), ${env.date}`,
    '',
    `Machine: ${env.cpus} × ${env.cpuModel}; Node ${env.node}; commit ${env.commit}` +
      `${env.modifiedFiles > 0 ? ` with ${env.modifiedFiles} tracked file(s) modified in the working tree` : ''}` +
      `${env.kamailio ? `; ${env.kamailio}` : ''}; ` +
      `load average ${env.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} at the end.`,
    `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. ` +
      `${opts.durationS} s of calls per step; 1–3 unmeasured calls, one after the other, before each size.`,
    '',
    `- **ours**: ${opts.oneProcess ? 'both local systems in one child process' : 'each local system in its own child process'} (dynalite, fauxqs, local Step Functions, HTTP APIs,`,
    `  SIP edge; ${opts.tsx ? 'sources through the tsx loader' : `bundled by esbuild as deployed, run with the edge's flags ${EDGE_NODE_FLAGS.join(' ')}`}), tables ${opts.memory ? 'in memory' : 'on disk (LevelDB, as npm start keeps them)'}, started afresh for each N. One temporary group (half of the members on each system); every`,
    '  member registered with digest and affiliated. The caller (digest-authenticated, affiliated) calls the',
    `  TGI; setup = INVITE → 200 at the caller, sent once ${opts.commencement === 'all' ? 'all N members accepted (minimumNumberToStart = N)' : 'one member accepted'};`,
    '  then ACK and BYE. Members answer 200 at once (scripts/bench/member-pool.ts, 8 UDP sockets, own process).',
    '- **kamailio**: registrar (usrloc in memory, no authentication) + tm parallel fork to the same N',
    '  member contacts, at most 30 branches per fork (a tree of forks for N > 30); members answer 180 then',
    '  486, so setup = INVITE → final = all N members answered; "first member" = first 180.',
    "- CPU s/call: CPU seconds of the systems' processes, summed (Kamailio: all its processes) per call placed;",
    "  peak RSS: VmHWM during the step, summed over the systems' processes (Kamailio: PSS of its processes, sampled); member legs/s: INVITEs the members",
    '  received per second of the busy window; slowest step: largest mean of the call setup breakdown.',
    '',
  ];
  out(['', ...header]);
  out(['## Results', '', ...mainTable(results), '']);
  if (results.some((r) => r.system === 'kamailio'))
    out(['## Ours / Kamailio', '', ...ratioTable(results), '']);
  out(['## Call setup, step by step (ours)', '']);
  for (const r of results.filter((x) => x.system === 'ours' && x.breakdown && x.breakdown.calls > 0)) {
    out([...breakdownTable(r), '']);
  }
  for (const r of results.filter((x) => x.profile)) out([...profileTable(r), '']);
  const { lines: costLines, costs } = costTable(results);
  out(['## Cost per million call setups (AWS, both systems)', '', ...costLines, '', ...priceLines(), '']);
  out(['## Operations per call (ours, the step each cost row is taken from)', '']);
  for (const n of opts.sizes) {
    const s = costStep(results, n);
    if (s) out([...operationsTable(s), '']);
  }
  const g = goals(results);
  out(['## Goals (for later)', '', ...g.map((x) => `- ${x.text}: **${x.status}** (${x.detail})`), '']);
  if (opts.save) {
    const stamp = env.date.slice(0, 19).replace(/:/g, '-');
    const files = writeResults(stamp, { env, options: opts, results, costs, goals: g }, md);
    log(`written: ${files.json}, ${files.md}`);
  }
  log(`total time ${elapsed()}`);
};

main()
  .then(() => {
    cleanup();
    process.exit(0);
  })
  .catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    cleanup();
    process.exit(1);
  });
