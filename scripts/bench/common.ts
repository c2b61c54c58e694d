/**
 * Small helpers shared by the group call benchmark (scripts/bench.ts) and its child processes:
 * free loopback ports, percentiles, /proc readings (CPU seconds, RSS, peak RSS), child processes
 * that are always ended with the benchmark, and a line-delimited JSON channel over IPC.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const HOST = '127.0.0.1';

/** Epoch milliseconds with sub-millisecond precision (comparable across processes of this machine). */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port free for both UDP and TCP on 127.0.0.1 (bound, then released); never one of `avoid`. */
export const freePort = async (avoid: ReadonlySet<number> = new Set()): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((res, rej) => {
      udp.once('error', rej);
      udp.bind(0, HOST, () => res(udp.address().port));
    });
    const tcpOk = await new Promise<boolean>((res) => {
      const srv = createServer();
      srv.once('error', () => res(false));
      srv.listen(port, HOST, () => srv.close(() => res(true)));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (tcpOk && !avoid.has(port)) return port;
  }
  throw new Error('no free port found');
};

/** Nearest-rank percentile of an ascending list (NaN when empty). */
export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
};

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export const distribution = (values: readonly number[]): Distribution => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
};

export const fmt = (n: number | undefined, digits = 0): string =>
  n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '-';

// ---------------------------------------------------------------- /proc

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

const statFields = (pid: number): number[] | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
  } catch {
    return undefined;
  }
};

/**
 * CPU seconds of one process: the scheduler's exact run time of each of its threads
 * (/proc/<pid>/task/<tid>/schedstat, ns), or user + system ticks of /proc/<pid>/stat (10 ms
 * resolution) where schedstat is missing.
 */
export const cpuSeconds = (pid: number): number => {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0] ?? 0);
    }
    if (Number.isFinite(ns) && ns > 0) return ns / 1e9;
  } catch {
    // fall back to ticks
  }
  const f = statFields(pid);
  return f ? ((f[11] ?? 0) + (f[12] ?? 0)) / CLK_TCK : Number.NaN;
};

/** CPU seconds of `root` and its direct children (Kamailio's workers). */
export const treeCpuSeconds = (root: number): number => {
  let total = 0;
  for (const pid of treePids(root)) total += cpuSeconds(pid) || 0;
  return total;
};

/** `root` and its direct children. */
export const treePids = (root: number): number[] => {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === root) {
      pids.push(pid);
      continue;
    }
    const f = statFields(pid);
    if (f && f[1] === root) pids.push(pid);
  }
  return pids;
};

/** CPU seconds (ticks) and parent of every process now. */
export const processSnapshot = (): Map<number, { ppid: number; cpuS: number }> => {
  const snap = new Map<number, { ppid: number; cpuS: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f) snap.set(Number(entry), { ppid: f[1] ?? 0, cpuS: ((f[11] ?? 0) + (f[12] ?? 0)) / CLK_TCK });
  }
  return snap;
};

/**
 * CPU seconds used between two snapshots by processes outside this benchmark's process tree and
 * outside `alsoOurs` (other work on the machine disturbing the figures).
 */
export const othersCpuSeconds = (
  before: Map<number, { ppid: number; cpuS: number }>,
  after: Map<number, { ppid: number; cpuS: number }>,
  alsoOurs: readonly number[] = [],
): number => {
  const roots = new Set([process.pid, ...alsoOurs]);
  const ours = (pid: number): boolean => {
    for (let p = pid, depth = 0; p > 1 && depth < 64; depth++) {
      if (roots.has(p)) return true;
      p = after.get(p)?.ppid ?? before.get(p)?.ppid ?? 0;
    }
    return false;
  };
  let total = 0;
  for (const [pid, a] of after) {
    if (!ours(pid)) total += Math.max(0, a.cpuS - (before.get(pid)?.cpuS ?? 0));
  }
  return total;
};

/** VmRSS and VmHWM (peak RSS since start or since {@link resetPeakRss}) in bytes. */
export const memoryOf = (pid: number): { rss: number; peak: number } => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
};

/** Resets VmHWM of a process of ours to its current RSS (`echo 5 > /proc/<pid>/clear_refs`). */
export const resetPeakRss = (pid: number): boolean => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};

/** Proportional set size (shared pages split between sharers) of a process tree, bytes. */
export const treePss = (root: number): number => {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      total += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
};

// ---------------------------------------------------------------- child processes

/** Every child still running, with how to end it (by its own pid or its own process group). */
const live = new Map<ChildProcess, { group: boolean }>();

export const track = (child: ChildProcess, group = false): ChildProcess => {
  live.set(child, { group });
  child.once('exit', () => live.delete(child));
  return child;
};

export const killChild = (child: ChildProcess, signal: NodeJS.Signals): void => {
  const entry = live.get(child);
  if (!entry || child.pid === undefined) return;
  try {
    if (entry.group) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
};

export const exited = (child: ChildProcess, timeoutMs: number): Promise<boolean> =>
  new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res(true);
    const timer = setTimeout(() => res(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      res(true);
    });
  });

/** SIGTERM, then SIGKILL after `graceMs`. */
export const stopChild = async (child: ChildProcess, graceMs = 5000): Promise<void> => {
  killChild(child, 'SIGTERM');
  if (!(await exited(child, graceMs))) {
    killChild(child, 'SIGKILL');
    await exited(child, 2000);
  }
};

export const killAllChildren = (): void => {
  for (const child of [...live.keys()]) killChild(child, 'SIGKILL');
};

/** A JavaScript module in its own node process, with an IPC channel. */
export const spawnNode = (
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): ChildProcess =>
  track(
    spawn(process.execPath, [...nodeFlags, file, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    }),
  );

/** A TypeScript module of this repository in its own node process (tsx loader), with an IPC channel. */
export const spawnTs = (
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): ChildProcess => spawnNode(file, args, env, [...nodeFlags, '--import', 'tsx']);

/** Request/response over a child's IPC channel: `{ id, type, ... }` in, `{ id, ... }` back. */
export class IpcPeer {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners: ((m: Record<string, unknown>) => void)[] = [];
  /** The last lines the child wrote on stdout/stderr (for error messages). */
  readonly tail: string[] = [];

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.on('message', (m: unknown) => {
      const msg = m as Record<string, unknown>;
      const id = typeof msg.id === 'number' ? msg.id : undefined;
      const w = id !== undefined ? this.waiting.get(id) : undefined;
      if (w && id !== undefined) {
        this.waiting.delete(id);
        if (typeof msg.error === 'string') w.reject(new Error(`${name}: ${msg.error}`));
        else w.resolve(msg);
        return;
      }
      for (const l of this.listeners) l(msg);
    });
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code, signal) => {
      for (const w of this.waiting.values()) {
        w.reject(
          new Error(
            `${name} exited (${code ?? signal}) — last output:\n  ${this.tail.slice(-15).join('\n  ')}`,
          ),
        );
      }
      this.waiting.clear();
    });
  }

  /** Sends `{ type, ...body }` and waits for the answer with the same id. */
  request<T>(type: string, body: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, type, ...body });
    });
  }

  /** The first unsolicited message matching `match`. */
  waitFor(
    match: (m: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${this.name}: not ready within ${timeoutMs} ms:\n  ${this.tail.join('\n  ')}`)),
        timeoutMs,
      );
      const l = (m: Record<string, unknown>) => {
        if (!match(m)) return;
        clearTimeout(timer);
        this.listeners.splice(this.listeners.indexOf(l), 1);
        resolve(m);
      };
      this.listeners.push(l);
      this.child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited:\n  ${this.tail.join('\n  ')}`));
      });
    });
  }
}

/** Child side of {@link IpcPeer}: handles `{ id, type }` requests with `handlers[type]`. */
export const serveIpc = (
  handlers: Record<string, (msg: Record<string, unknown>) => Promise<unknown> | unknown>,
): void => {
  process.on('message', (m: unknown) => {
    const msg = m as Record<string, unknown>;
    const h = handlers[String(msg.type)];
    void (async () => {
      try {
        if (!h) throw new Error(`unknown request ${String(msg.type)}`);
        const out = (await h(msg)) as Record<string, unknown> | undefined;
        process.send?.({ ...(out ?? {}), id: msg.id });
      } catch (e) {
        process.send?.({ id: msg.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      }
    })();
  });
  // The driver is gone (its IPC channel closed): never outlive it.
  process.on('disconnect', () => process.exit(0));
};
