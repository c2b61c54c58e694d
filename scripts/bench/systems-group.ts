/**
 * The local systems of one benchmark size, each system in its own child process (scripts/bench/
 * server.ts `--system <domain>`), seen by the driver as one: the same requests as a single server
 * child, answered by every child and merged.
 *
 * Why one process per system: two MCPTT systems are two deployments (two accounts, two regions, two
 * operators); in one Node.js process they would share one event loop, and the benchmark would measure
 * that sharing rather than either system. `--one-process` keeps the old arrangement for comparison.
 *
 * Merged figures: CPU seconds, RSS, peak RSS and heap are SUMS over the processes (the machine's cost
 * of the systems); per-system records (API, DynamoDB, edges, executions…) are disjoint and joined;
 * counters that are not per system (SQS, Step Functions API) are added; event-loop delay is the worst.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { EDGE_NODE_FLAGS } from '../../lib/edge-config.ts';
import {
  cpuSeconds,
  freePort,
  HOST,
  IpcPeer,
  memoryOf,
  resetPeakRss,
  sleep,
  spawnNode,
  spawnTs,
  stopChild,
  track,
} from './common.ts';
import type { ExecutionTrace, ProfileSummary, ServerSnapshot } from './server.ts';

/** One systems process's memory (`process.memoryUsage()`), bytes. */
export interface ProcessMemory {
  system: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Resident bytes of each V8 heap space. */
  spaces: Record<string, number>;
}

export interface ReadySystem {
  domain: string;
  url: string;
  sipPort: number;
  controlUrl: string;
}

interface Ready {
  pid: number;
  seedMs: number;
  systems: ReadySystem[];
}

const addCounts = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

/** One snapshot of several processes, each holding its own systems. */
export const mergeSnapshots = (snaps: readonly ServerSnapshot[]): ServerSnapshot => {
  const [first, ...rest] = snaps;
  if (!first) throw new Error('no snapshot to merge');
  return rest.reduce<ServerSnapshot>(
    (m, s) => ({
      at: Math.max(m.at, s.at),
      cpuUs: m.cpuUs + s.cpuUs,
      rssBytes: m.rssBytes + s.rssBytes,
      api: { ...m.api, ...s.api },
      dynamo: { ...m.dynamo, ...s.dynamo },
      sqs: addCounts(m.sqs, s.sqs),
      sfnApi: addCounts(m.sfnApi, s.sfnApi),
      control: { ...m.control, ...s.control },
      workflowLambdas: { ...m.workflowLambdas, ...s.workflowLambdas },
      stateTransitions: addCounts(m.stateTransitions, s.stateTransitions),
      executions: { ...m.executions, ...s.executions },
      edges: { ...m.edges, ...s.edges },
      loopDelay: {
        p99Ms: Math.max(m.loopDelay.p99Ms, s.loopDelay.p99Ms),
        maxMs: Math.max(m.loopDelay.maxMs, s.loopDelay.maxMs),
      },
      errorLines: m.errorLines + s.errorLines,
      lastErrors: [...m.lastErrors, ...s.lastErrors].slice(-20),
    }),
    first,
  );
};

/** One CPU profile of several processes: self times added by place and by function. */
export const mergeProfiles = (profiles: readonly ProfileSummary[]): ProfileSummary => {
  const busyMs = profiles.reduce((a, p) => a + p.busyMs, 0);
  const merge = (pick: (p: ProfileSummary) => ProfileSummary['byPlace']) => {
    const ms = new Map<string, number>();
    for (const p of profiles) for (const e of pick(p)) ms.set(e.name, (ms.get(e.name) ?? 0) + e.ms);
    return [...ms]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([name, v]) => ({ name, ms: v, pct: (100 * v) / Math.max(1e-9, busyMs) }));
  };
  return { busyMs, byPlace: merge((p) => p.byPlace), byFunction: merge((p) => p.byFunction) };
};

/** Resolves once something accepts TCP connections on `port` (or throws after `timeoutMs`). */
const waitListening = async (port: number, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: HOST, port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${HOST}:${port}`);
    await sleep(50);
  }
};

/** dynalite's own server (its CLI) in a process of its own: a system's table, as a service. */
const startTableProcess = async (
  dataDir: string | undefined,
): Promise<{ child: ChildProcess; endpoint: string }> => {
  const port = await freePort();
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const child = track(
    spawn(
      process.execPath,
      [
        'node_modules/dynalite/cli.js',
        '--host',
        HOST,
        '--port',
        String(port),
        '--createTableMs',
        '0',
        '--deleteTableMs',
        '0',
        '--updateTableMs',
        '0',
        ...(dataDir ? ['--path', dataDir] : []),
      ],
      { stdio: 'ignore' },
    ),
  );
  try {
    await waitListening(port);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { child, endpoint: `http://${HOST}:${port}` };
};

export class SystemsGroup {
  private constructor(
    private readonly peers: IpcPeer[],
    private readonly children: ChildProcess[],
    readonly pids: number[],
    readonly systems: ReadySystem[],
    readonly seedMs: number,
    /** The table processes (`tablesApart`): their CPU counts in the systems', their RSS apart. */
    readonly tablePids: number[] = [],
  ) {}

  /**
   * Starts the systems of `configFile`: one child per domain of `groups` (each entry: the domains one
   * process runs; `[undefined]`: every system in one process). `dataDir`: each system's table on disk
   * in a folder under it (as `npm start` keeps it); without: in memory. `heapMb`: each process's V8
   * old-generation limit (a container's memory limit; unset: V8's default, sized from the machine).
   */
  static async start(
    configFile: string,
    groups: (string | undefined)[],
    opts: {
      dataDir?: string;
      heapMb?: number;
      tablesApart?: boolean;
      nodeFlags?: readonly string[];
      /** The bundle of server.ts to run (server-bundle.ts); without: the source, through tsx. */
      bundle?: string;
    } = {},
  ): Promise<SystemsGroup> {
    const apart = opts.tablesApart === true && groups.every((g) => g !== undefined);
    const tables = apart
      ? await Promise.all(
          groups.map((domain) =>
            startTableProcess(opts.dataDir ? join(opts.dataDir, `table-${domain}`) : undefined),
          ),
        )
      : [];
    const servers = groups.map((domain, i) => {
      const args = [
        '--config',
        configFile,
        ...(domain ? ['--system', domain] : []),
        ...(opts.dataDir ? ['--data-dir', opts.dataDir] : []),
        ...(tables[i] ? ['--dynamodb-endpoint', tables[i].endpoint] : []),
      ];
      const flags = [
        '--expose-gc',
        ...(opts.heapMb ? [`--max-old-space-size=${opts.heapMb}`] : []),
        ...(opts.nodeFlags ?? []),
      ];
      const env = { LOG_LEVEL: 'warn' };
      return opts.bundle
        ? spawnNode(opts.bundle, args, env, [...EDGE_NODE_FLAGS, ...flags])
        : spawnTs('scripts/bench/server.ts', args, env, flags);
    });
    const children = [...servers, ...tables.map((t) => t.child)];
    const peers = servers.map((c, i) => new IpcPeer(c, `local systems${groups[i] ? ` (${groups[i]})` : ''}`));
    try {
      const ready = (await Promise.all(
        peers.map((p) => p.waitFor((m) => m.type === 'ready', 180_000)),
      )) as unknown as Ready[];
      return new SystemsGroup(
        peers,
        children,
        ready.map((r) => r.pid),
        ready.flatMap((r) => r.systems),
        Math.max(...ready.map((r) => r.seedMs)),
        tables.map((t) => t.child.pid ?? 0),
      );
    } catch (e) {
      await Promise.all(children.map((c) => stopChild(c)));
      throw e;
    }
  }

  system(domain: string): ReadySystem {
    const s = this.systems.find((x) => x.domain === domain);
    if (!s) throw new Error(`no local system ${domain}`);
    return s;
  }

  private all<T>(type: string, timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.peers.map((p) => p.request<T>(type, {}, timeoutMs)));
  }

  async snapshot(): Promise<ServerSnapshot> {
    return mergeSnapshots((await this.all<{ snapshot: ServerSnapshot }>('snapshot')).map((r) => r.snapshot));
  }

  async executions(timeoutMs = 120_000): Promise<ExecutionTrace[]> {
    return (await this.all<{ executions: ExecutionTrace[] }>('executions', timeoutMs)).flatMap(
      (r) => r.executions,
    );
  }

  /**
   * After a full GC, summed over the processes: the main threads' V8 heap in use, and their memory
   * outside it (Buffers and other native allocations V8 knows of).
   */
  async heapAfterGc(): Promise<{ heapUsed: number; external: number }> {
    const all = await this.all<{ heapUsed: number; external: number }>('heap', 60_000);
    return {
      heapUsed: all.reduce((a, r) => a + r.heapUsed, 0),
      external: all.reduce((a, r) => a + r.external, 0),
    };
  }

  /** Each process's `process.memoryUsage()` now, with the system it runs. */
  async memory(): Promise<ProcessMemory[]> {
    return this.all<ProcessMemory>('memory', 10_000);
  }

  /** Heap snapshots of every process, after a full GC, into `dir`; the files written. */
  async heapSnapshots(dir: string): Promise<string[]> {
    const out = await Promise.all(
      this.peers.map((p) => p.request<{ file: string }>('heapSnapshot', { dir }, 300_000)),
    );
    return out.map((r) => r.file);
  }

  async profileStart(): Promise<void> {
    await this.all('profileStart');
  }

  async profileStop(): Promise<ProfileSummary | undefined> {
    const out = await this.all<{ profile?: ProfileSummary }>('profileStop', 60_000);
    const profiles = out.flatMap((r) => (r.profile ? [r.profile] : []));
    return profiles.length > 0 ? mergeProfiles(profiles) : undefined;
  }

  /** CPU seconds of the systems' processes and of their table processes. */
  cpuSeconds(): number {
    return [...this.pids, ...this.tablePids].reduce((a, pid) => a + cpuSeconds(pid), 0);
  }

  /** RSS of the table processes (stored data grows it), apart from the systems'. */
  tableRss(): number {
    return this.tablePids.reduce((a, pid) => a + memoryOf(pid).rss, 0);
  }

  rss(): number {
    return this.pids.reduce((a, pid) => a + memoryOf(pid).rss, 0);
  }

  /** Sum of the processes' peaks (an upper bound of the peak of their sum). */
  peakRss(): number {
    return this.pids.reduce((a, pid) => a + memoryOf(pid).peak, 0);
  }

  resetPeakRss(): void {
    for (const pid of this.pids) resetPeakRss(pid);
  }

  async stop(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.request('stop', {}, 30_000).catch(() => undefined)));
    await Promise.all(this.children.map((c) => stopChild(c)));
  }
}
