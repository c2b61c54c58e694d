/**
 * SIP edge benchmark: calls per second and call-setup latency of our edge answering INVITEs
 * itself, next to Kamailio as a stateful proxy in front of a SIPp UAS, in the same run.
 *
 * - Ours: scripts/bench-edge-server.ts in a child process (its own event loop and CPU account, kept
 *   apart from this driver's process spawning, probe and file parsing; profiled with `--profile`;
 *   bundled by esbuild and run by plain node, so that profiles name functions): the edge
 *   on 127.0.0.1, `authenticate: false`, an in-process answering function (`routeCall` → answer).
 * - Baseline: Kamailio (tm `t_relay()`, `record_route()`, no DB) in front of SIPp `bench-uas.xml`.
 * - Load: SIPp test/sipp/bench/bench-uac.xml (INVITE → 100? → 200 → ACK → BYE → 200) at fixed
 *   rates for a fixed number of calls, over UDP, then TCP with one connection (`-t t1`). Latency is
 *   RTD 1 (INVITE sent → 200 received) of every successful call from `-trace_rtt`; SIPp's clock is
 *   CLOCK_MONOTONIC_COARSE, whose resolution is printed (4 ms on this kernel), so values are multiples of it.
 *
 * Everything binds 127.0.0.1; every child is killed at the end, on error and on Ctrl-C.
 *
 *   npm run bench:edge -- [--rates 200,500,1000,1500] [--tcp-rates 500,1000] [--calls 5000]
 *     [--warmup 1000] [--cooldown 2] [--probe-rate 50] [--only ours|kamailio] [--profile] [--no-save]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CLK_TCK,
  exited,
  freePort,
  HOST,
  killAllChildren,
  killChild,
  othersCpuSeconds,
  percentile,
  processSnapshot,
  sleep,
  stopChild,
  track,
} from './bench/common.ts';
import { kamailioModules, launchKamailio } from './bench/kamailio.ts';

// ---------------------------------------------------------------- options

type Transport = 'udp' | 'tcp';
type System = 'ours' | 'kamailio';

const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const numbers = (text: string): number[] =>
  text
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);

const opts = {
  rates: numbers(argValue('--rates') ?? '200,500,1000,1500'),
  tcpRates: numbers(argValue('--tcp-rates') ?? '500,1000'),
  calls: Number(argValue('--calls') ?? 5000),
  warmup: Number(argValue('--warmup') ?? 1000),
  cooldownS: Number(argValue('--cooldown') ?? 2),
  only: argValue('--only') as System | undefined,
  profile: process.argv.includes('--profile'),
  save: !process.argv.includes('--no-save'),
  /** Probe calls per second during each step (0: no probe). */
  probeRate: Number(argValue('--probe-rate') ?? 50),
};
if (!(opts.calls > 0 && opts.calls <= 1_000_000)) throw new Error('--calls must be in 1..1000000');
if (opts.only !== undefined && opts.only !== 'ours' && opts.only !== 'kamailio') {
  throw new Error('--only takes ours or kamailio');
}

const SCENARIOS = resolve('test/sipp/bench');
const SERVER = resolve('scripts/bench-edge-server.ts');
const work = mkdtempSync(join(tmpdir(), 'bench-edge-'));

// ---------------------------------------------------------------- child process bookkeeping

process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the benchmark`);
    killAllChildren();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
}

// ---------------------------------------------------------------- small helpers

/**
 * CPU seconds of one process from /proc/<pid>/stat: utime+stime, plus cutime+cstime (children it
 * has reaped) with `reaped`. The kernel derives these from the scheduler's exact run time, unlike
 * the tick-sampled /proc/stat, which misses SIPp's short bursts right after each tick.
 */
const procCpuSeconds = (pid: number | string, reaped = false): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ticks = (f[11] ?? 0) + (f[12] ?? 0) + (reaped ? (f[13] ?? 0) + (f[14] ?? 0) : 0);
    return ticks / CLK_TCK;
  } catch {
    return 0;
  }
};

/** CPU seconds (user + system) of a process tree: `root` and its direct children (Kamailio's workers). */
const treeCpuSeconds = (root: number): number => {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command: state ppid ... utime(14) stime(15).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(rest[1]);
    if (pid !== root && ppid !== root) continue;
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / CLK_TCK;
};

const coarseClockMs = (): number | undefined => {
  // SIPp timestamps come from CLOCK_MONOTONIC_COARSE; its resolution bounds what RTD can show.
  const r = spawnSync(
    'python3',
    ['-c', 'import ctypes,sys;t=(ctypes.c_long*2)();ctypes.CDLL(None).clock_getres(6,t);print(t[1])'],
    { timeout: 5000 },
  );
  const ns = Number(r.stdout?.toString().trim());
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : undefined;
};

// ---------------------------------------------------------------- SIPp

interface SippRun {
  exitCode: number | null;
  created: number;
  successful: number;
  failed: number;
  /** Calls created that neither succeeded nor failed (SIPp stopped by its global timeout). */
  unfinished: number;
  retransmissions: number;
  /** Non-zero SIPp failure counters (FailedTimeoutOnRecv, FailedUnexpectedMessage, …). */
  failures: Record<string, number>;
  elapsedS: number;
  offeredCps: number;
  rttMs: number[];
  output: string;
}

const sippArgs = (t: Transport) => ['-t', t === 'udp' ? 'u1' : 't1', '-buff_size', String(4 * 1024 * 1024)];

/** Runs the UAC scenario for `calls` calls at `rate` calls/s against `target`. */
const runUac = async (name: string, target: number, t: Transport, rate: number, calls: number) => {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(SCENARIOS, 'bench-uac.xml'), join(dir, 'bench-uac.xml'));
  const timeoutS = Math.ceil(calls / rate) + 40;
  const args = [
    `${HOST}:${target}`,
    '-sf',
    'bench-uac.xml',
    '-s',
    'bench',
    '-i',
    HOST,
    '-p',
    String(await freePort()),
    ...sippArgs(t),
    '-r',
    String(rate),
    '-m',
    String(calls),
    '-l',
    String(Math.max(1000, rate * 10)),
    '-recv_timeout',
    '10000',
    '-nostdin',
    '-trace_stat',
    '-stf',
    'stats.csv',
    '-fd',
    '1',
    '-trace_rtt',
    '-rtt_freq',
    '1',
    '-timeout',
    `${timeoutS}s`,
  ];
  const child = track(spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killer = setTimeout(() => killChild(child, 'SIGKILL'), (timeoutS + 15) * 1000);
  await exited(child, (timeoutS + 20) * 1000);
  clearTimeout(killer);

  const statsPath = join(dir, 'stats.csv');
  const rows = existsSync(statsPath)
    ? readFileSync(statsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
    : [];
  const header = (rows[0] ?? '').split(';');
  const last = (rows[rows.length - 1] ?? '').split(';');
  const col = (n: string) => last[header.indexOf(n)] ?? '';
  const num = (n: string) => Number(col(n)) || 0;
  const epoch = (n: string) => Number(col(n).split('\t')[2]);
  const created = num('OutgoingCall(C)');
  const successful = num('SuccessfulCall(C)');
  const failed = num('FailedCall(C)');

  const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  const rows2 = rttFile
    ? readFileSync(join(dir, rttFile), 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => l.trim())
        .map((l) => l.split(';').map(Number))
    : [];
  const rttMs = rows2.map((r) => r[1] ?? Number.NaN).filter(Number.isFinite);
  // INVITE send time = RTD end − RTD; offered rate = calls over the span of INVITE sends.
  const sends = rows2.map((r) => (r[0] ?? 0) - (r[1] ?? 0));
  const span = sends.length > 1 ? (Math.max(...sends) - Math.min(...sends)) / 1000 : 0;
  return {
    exitCode: child.exitCode,
    created,
    successful,
    failed,
    unfinished: Math.max(0, created - successful - failed) + Math.max(0, calls - created),
    retransmissions: num('Retransmissions(C)'),
    failures: Object.fromEntries(
      header
        .filter((h) => /^Failed.+\(C\)$/.test(h) && h !== 'FailedCall(C)' && num(h) > 0)
        .map((h) => [h.replace('(C)', ''), num(h)]),
    ),
    elapsedS: epoch('CurrentTime') - epoch('StartTime'),
    offeredCps: span > 0 ? (sends.length - 1) / span : Number.NaN,
    rttMs,
    output,
  } satisfies SippRun;
};

/** A SIPp UAS (bench-uas.xml) on `port`, running until stopped. */
const startUas = async (port: number, t: Transport): Promise<ChildProcess> => {
  const dir = join(work, `uas-${t}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(SCENARIOS, 'bench-uas.xml'), join(dir, 'bench-uas.xml'));
  const child = track(
    spawn(
      'sipp',
      [
        '-sf',
        'bench-uas.xml',
        '-i',
        HOST,
        '-p',
        String(port),
        ...sippArgs(t),
        '-nostdin',
        '-timeout',
        '1800s',
        '-trace_stat',
        '-stf',
        'uas-stats.csv',
        '-fd',
        '1',
      ],
      { cwd: dir, stdio: 'ignore' },
    ),
  );
  await sleep(500);
  if (child.exitCode !== null) throw new Error(`SIPp UAS on port ${port} exited (${child.exitCode})`);
  return child;
};

// ---------------------------------------------------------------- probe: sub-millisecond setup time

interface ProbeResult {
  calls: number;
  answered: number;
  completed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * A low-rate caller in this process, timed with hrtime: SIPp's RTD only has the coarse clock's
 * resolution. Each probe call is INVITE → 200 (timed) → ACK → BYE → 200, sent like SIPp's to the
 * target address, with the Route set from Record-Route (so it also works through the proxy). It
 * adds `rate` calls/s to the step's load.
 */
let probeCallNumber = 0;

const startProbe = async (port: number, t: Transport, rate: number) => {
  const latencies: number[] = [];
  const pending = new Map<string, { sentAt: bigint; answered: boolean; done: boolean }>();
  let send: (text: string) => void = () => undefined;
  let localPort = 0;
  let close: () => Promise<void> = async () => undefined;
  const onMessage = (text: string) => {
    const [head = ''] = text.split('\r\n\r\n');
    const [first = '', ...headerLines] = head.split('\r\n');
    const status = /^SIP\/2\.0 (\d{3})/.exec(first)?.[1];
    if (status === undefined) return;
    const headers = headerLines.map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as const;
    });
    const get = (...names: string[]) => headers.find(([n]) => names.includes(n))?.[1];
    const callId = get('call-id', 'i') ?? '';
    const call = pending.get(callId);
    const cseq = get('cseq') ?? '';
    if (call === undefined || status !== '200') return;
    if (cseq.endsWith('BYE')) {
      call.done = true;
      return;
    }
    if (!call.answered) {
      call.answered = true;
      latencies.push(Number(process.hrtime.bigint() - call.sentAt) / 1e6);
    }
    // ACK (also for a retransmitted 200), then BYE once.
    const to = get('to', 't') ?? '';
    const contact = /<([^>]+)>/.exec(get('contact', 'm') ?? '')?.[1] ?? `sip:${HOST}:${port}`;
    const routes = headers
      .filter(([n]) => n === 'record-route')
      .flatMap(([, v]) => v.split(/,(?=\s*<)/).map((r) => r.trim()))
      .reverse();
    const inDialog = (method: string, seq: number, n: string) =>
      `${method} ${contact} SIP/2.0\r\n` +
      `Via: SIP/2.0/${t.toUpperCase()} ${HOST}:${localPort};branch=z9hG4bK-probe-${n};rport\r\n` +
      routes.map((r) => `Route: ${r}\r\n`).join('') +
      `From: <sip:probe@${HOST}>;tag=${callId.split('@')[0]}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\n` +
      `CSeq: ${seq} ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
    send(inDialog('ACK', 1, `${callId.split('@')[0]}-ack-${latencies.length}`));
    if (!call.done && !cseq.endsWith('ACK')) {
      send(inDialog('BYE', 2, `${callId.split('@')[0]}-bye`));
    }
  };
  if (t === 'udp') {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
    localPort = sock.address().port;
    sock.on('message', (m) => onMessage(m.toString('latin1')));
    send = (text) => sock.send(text, port, HOST);
    close = () => new Promise<void>((r) => sock.close(() => r()));
  } else {
    const conn = await new Promise<Socket>((res, rej) => {
      const c = connect({ host: HOST, port, localAddress: HOST }, () => res(c));
      c.once('error', rej);
    });
    conn.setNoDelay(true);
    conn.on('error', () => undefined);
    localPort = conn.localPort ?? 0;
    let buf = '';
    conn.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end + 2))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        onMessage(buf.slice(0, end + 4 + len));
        buf = buf.slice(end + 4 + len);
      }
    });
    send = (text) => conn.write(text);
    close = () => new Promise<void>((r) => conn.end(() => r()));
  }
  const body =
    'v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';
  const timer = setInterval(
    () => {
      // Unique across steps: a long-running SIPp callee discards Call-IDs it has already seen.
      const id = `probe${process.pid}x${probeCallNumber++}`;
      const callId = `${id}@${HOST}`;
      pending.set(callId, { sentAt: process.hrtime.bigint(), answered: false, done: false });
      send(
        `INVITE sip:probe@${HOST}:${port} SIP/2.0\r\n` +
          `Via: SIP/2.0/${t.toUpperCase()} ${HOST}:${localPort};branch=z9hG4bK-${id}-inv;rport\r\n` +
          `From: <sip:probe@${HOST}>;tag=${id}\r\nTo: <sip:probe@${HOST}:${port}>\r\nCall-ID: ${callId}\r\n` +
          `CSeq: 1 INVITE\r\nContact: <sip:probe@${HOST}:${localPort};transport=${t}>\r\n` +
          `Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    },
    Math.max(5, Math.round(1000 / rate)),
  );
  return {
    async stop(): Promise<ProbeResult> {
      clearInterval(timer);
      for (let i = 0; i < 20 && [...pending.values()].some((c) => !c.done); i++) await sleep(100);
      await close();
      const sorted = [...latencies].sort((a, b) => a - b);
      const calls = [...pending.values()];
      return {
        calls: calls.length,
        answered: calls.filter((c) => c.answered).length,
        completed: calls.filter((c) => c.done).length,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      };
    },
  };
};

// ---------------------------------------------------------------- ours: the edge in a child process

interface EdgeStats {
  pid: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  liveCalls: number;
  transactions: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  diagnosticCount: number;
  diagnostics: string[];
}

interface EdgeHandle {
  ports: Record<Transport, number>;
  pid: number;
  /** Statistics since the previous call (resets the event-loop delay histogram). */
  stats(): Promise<EdgeStats>;
  /** CPU seconds (user + system) of the edge process so far (resets nothing). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Bundles the harness with esbuild (as the functions are bundled for AWS): the child then runs
 * plain JavaScript under `node`, without tsx's loader thread, and its CPU profile names real
 * functions; the `// path` comments esbuild writes map each bundle line back to its source file.
 */
const bundleHarness = async (): Promise<string> => {
  const { build } = await import('esbuild');
  const outfile = join(work, 'bench-edge-server.mjs');
  await build({
    entryPoints: [SERVER],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
};

const startEdge = async (profileDir?: string): Promise<EdgeHandle> => {
  const bundle = await bundleHarness();
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    bundle,
    '--port',
    '0',
  ];
  const child = track(
    spawn(process.execPath, nodeArgs, {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }),
  );
  const waiting: ((o: Record<string, unknown>) => void)[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    waiting.shift()?.(o);
  });
  const next = (timeoutMs: number) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('the edge harness did not answer')), timeoutMs);
      waiting.push((o) => {
        clearTimeout(timer);
        res(o);
      });
    });
  const ready = await next(30_000);
  if (ready.ready !== true) throw new Error(`unexpected harness output ${JSON.stringify(ready)}`);
  return {
    ports: { udp: Number(ready.udpPort), tcp: Number(ready.tcpPort) },
    pid: Number(ready.pid),
    async stats() {
      if (child.exitCode !== null) throw new Error(`the edge harness exited (${child.exitCode})`);
      const reply = next(10_000);
      child.stdin?.write('stats\n');
      return (await reply).stats as EdgeStats;
    },
    async cpuSeconds() {
      if (child.exitCode !== null) throw new Error(`the edge harness exited (${child.exitCode})`);
      const reply = next(10_000);
      child.stdin?.write('cpu\n');
      const cpu = (await reply).cpu as { user: number; system: number };
      return (cpu.user + cpu.system) / 1e6;
    },
    async stop() {
      child.stdin?.write('stop\n');
      if (!(await exited(child, 15_000))) await stopChild(child);
    },
  };
};

// ---------------------------------------------------------------- baseline: Kamailio

const kamailioCfg = (port: number, uas: Record<Transport, number>) => `#!KAMAILIO
# Generated by scripts/bench-edge.ts: a stateful proxy (tm) on 127.0.0.1 only, no database.
debug=1
log_stderror=yes
children=2
tcp_children=2
listen=udp:${HOST}:${port}
listen=tcp:${HOST}:${port}
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
dns_try_ipv6=no
mpath="${kamailioModules()}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    # In-dialog ACK and BYE come back through us (Record-Route): loose routing, then tm.
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
  t_check_trans();
  if (is_method("INVITE")) record_route();
  if ($pr == "tcp") $du = "sip:${HOST}:${uas.tcp};transport=tcp";
  else $du = "sip:${HOST}:${uas.udp};transport=udp";
  if (!t_relay()) sl_reply_error();
  exit;
}
`;

/**
 * Kamailio in front of the SIPp UAS. -m 1024: tm keeps every transaction for its wait timer (5 s), and
 * at 2,000 calls/s 256 MB of shared memory runs out ("could not allocate shared memory", 500 replies);
 * 1 GB does not run out at 5,000 calls/s.
 */
const startKamailio = (port: number, uas: Record<Transport, number>) =>
  launchKamailio(port, join(work, 'kamailio'), kamailioCfg(port, uas), { sharedMb: 1024, pkgMb: 32 });

// ---------------------------------------------------------------- the run

interface StepResult {
  system: System;
  transport: Transport;
  targetCps: number;
  calls: number;
  offeredCps: number;
  achievedCps: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** SIPp's failure counters by cause. */
  sippFailures: Record<string, number>;
  /** Error lines the server logged during the step (edge diagnostics; Kamailio ERROR lines). */
  serverErrors: number;
  serverErrorLines: string[];
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Mean of SIPp's RTDs: biased low (SIPp sends just after a clock tick); the probe is the measure. */
  meanMs: number;
  elapsedS: number;
  /** CPU seconds of the server under test during the step (our edge process; Kamailio's processes). */
  serverCpuS: number;
  /** CPU seconds of the SIPp processes during the step: caller, plus callee for the baseline. */
  sippCpuS: number;
  /** CPU seconds of processes outside the benchmark during the step (disturbance). */
  othersCpuS: number;
  sippExit: number | null;
  /** Setup time measured by the in-driver probe (hrtime), when it ran. */
  probe?: ProbeResult;
  edge?: Omit<EdgeStats, 'cpuUserUs' | 'cpuSystemUs' | 'pid'>;
}

const results: StepResult[] = [];

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

const printStep = (r: StepResult) => {
  const edge = r.edge
    ? `  [edge: ${r.edge.transactions} live tx, rss ${(r.edge.rssBytes / 2 ** 20).toFixed(0)} MiB, loop delay p99/max ${fmt(r.edge.loopDelayP99Ms, 1)}/${fmt(r.edge.loopDelayMaxMs, 1)} ms]`
    : '';
  console.log(
    `  ${r.system.padEnd(8)} ${r.transport} ${String(r.targetCps).padStart(5)}/s: achieved ${fmt(r.achievedCps, 1)}/s, ` +
      `${r.successful} ok, ${r.failed} failed, ${r.retransmissions} retrans, p50/p95/p99/max ` +
      `${fmt(r.p50Ms)}/${fmt(r.p95Ms)}/${fmt(r.p99Ms)}/${fmt(r.maxMs)} ms, server CPU ${fmt(r.serverCpuS, 2)} s, ` +
      `SIPp CPU ${fmt(r.sippCpuS, 2)} s${edge}`,
  );
  if (r.probe) {
    const p = r.probe;
    console.log(
      `    probe: ${p.calls} calls, ${p.answered} answered, ${p.completed} completed; setup p50/p99/max ` +
        `${fmt(p.p50Ms, 2)}/${fmt(p.p99Ms, 2)}/${fmt(p.maxMs, 2)} ms`,
    );
  }
  if (r.failed > 0) console.log(`    SIPp failures: ${JSON.stringify(r.sippFailures)}`);
  if (r.serverErrors > 0) {
    console.log(`    ${r.serverErrors} server error lines, e.g.:`);
    for (const l of r.serverErrorLines.slice(0, 5)) console.log(`      ${l}`);
  }
  if (r.othersCpuS > 0.1 * r.elapsedS) {
    console.log(
      `    WARNING: other processes used ${fmt(r.othersCpuS, 2)} CPU s during this step ` +
        `(${fmt((100 * r.othersCpuS) / r.elapsedS)} % of a core): figures disturbed`,
    );
  }
};

/** The system under test, as the steps see it. */
interface Target {
  system: System;
  ports: Record<Transport, number>;
  /** CPU seconds used so far by the server under test. */
  serverCpu(): Promise<number>;
  /** Error lines of the server so far (edge diagnostics; Kamailio ERROR-or-worse log lines). */
  serverDiagnostics(): Promise<{ count: number; lines: string[] }>;
  /** CPU seconds used so far by a long-running SIPp callee (baseline), 0 for ours. */
  calleeCpu(): number;
  edge?: EdgeHandle;
  /** Called before the first step of each transport (the baseline restarts its callee). */
  onTransport?(t: Transport): Promise<void>;
}

const step = async (target: Target, transport: Transport, rate: number, calls: number) => {
  const { system, edge } = target;
  // For ours this is the harness's `stats`, which also resets its loop-delay histogram.
  const diag0 = await target.serverDiagnostics();
  const cpu0 = await target.serverCpu();
  const sipp0 = procCpuSeconds('self', true) + target.calleeCpu();
  const others0 = processSnapshot();
  const uac = runUac(
    `${system}-${transport}-${rate}-${results.length}`,
    target.ports[transport],
    transport,
    rate,
    calls,
  );
  // The probe starts once SIPp has started sending and stops before SIPp's last calls.
  let probe: Awaited<ReturnType<typeof startProbe>> | undefined;
  let probeResult: ProbeResult | undefined;
  const probeSpanMs = (1000 * calls) / rate - 1000;
  if (opts.probeRate > 0 && probeSpanMs >= 1000) {
    await sleep(500);
    probe = await startProbe(target.ports[transport], transport, opts.probeRate);
    await sleep(probeSpanMs);
    probeResult = await probe.stop();
  }
  const run = await uac;
  // The caller SIPp has exited and been reaped: its CPU is in this process's cutime/cstime.
  const sipp1 = procCpuSeconds('self', true) + target.calleeCpu();
  const othersCpuS = othersCpuSeconds(others0, processSnapshot());
  const cpu1 = await target.serverCpu();
  const e = edge ? await edge.stats() : undefined;
  const diag1 = e ? { count: e.diagnosticCount, lines: e.diagnostics } : await target.serverDiagnostics();
  const sorted = [...run.rttMs].sort((a, b) => a - b);
  const failed = run.failed + run.unfinished;
  if (run.successful === 0) console.log(`  SIPp produced no successful call; its output:\n${run.output}`);
  return {
    system,
    transport,
    targetCps: rate,
    calls,
    offeredCps: run.offeredCps,
    achievedCps: run.elapsedS > 0 ? run.successful / run.elapsedS : Number.NaN,
    successful: run.successful,
    failed,
    retransmissions: run.retransmissions,
    sippFailures: run.failures,
    serverErrors: diag1.count - diag0.count,
    serverErrorLines: diag1.lines,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    meanMs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
    elapsedS: run.elapsedS,
    serverCpuS: cpu1 - cpu0,
    sippCpuS: sipp1 - sipp0,
    othersCpuS,
    sippExit: run.exitCode,
    ...(probeResult ? { probe: probeResult } : {}),
    ...(e
      ? {
          edge: {
            rssBytes: e.rssBytes,
            liveCalls: e.liveCalls,
            transactions: e.transactions,
            loopDelayP99Ms: e.loopDelayP99Ms,
            loopDelayMaxMs: e.loopDelayMaxMs,
            diagnosticCount: e.diagnosticCount,
            diagnostics: e.diagnostics,
          },
        }
      : {}),
  } satisfies StepResult;
};

const plan = (): { transport: Transport; rate: number }[] => [
  ...opts.rates.map((rate) => ({ transport: 'udp' as const, rate })),
  ...opts.tcpRates.map((rate) => ({ transport: 'tcp' as const, rate })),
];

const runSteps = async (target: Target) => {
  let current: Transport | undefined;
  for (const { transport, rate } of plan()) {
    if (transport !== current) {
      current = transport;
      await target.onTransport?.(transport);
    }
    const r = await step(target, transport, rate, opts.calls);
    results.push(r);
    printStep(r);
    await sleep(opts.cooldownS * 1000);
  }
};

const warmup = async (system: System, target: number) => {
  if (opts.warmup <= 0) return;
  const run = await runUac(`${system}-warmup`, target, 'udp', 250, opts.warmup);
  console.log(`  ${system.padEnd(8)} warm-up: ${run.successful}/${opts.warmup} calls at 250/s over UDP`);
  await sleep(opts.cooldownS * 1000);
};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** For each line of an esbuild bundle, the source file it came from (from esbuild's `// path` comments). */
const bundleSources = (bundleFile: string): string[] => {
  const sources: string[] = [];
  let current = '(bundle)';
  for (const line of readFileSync(bundleFile, 'utf8').split('\n')) {
    const m = /^\/\/ ((?:\.\.\/)*[\w@.\-/]+\.(?:ts|js|mjs|cjs|json))$/.exec(line);
    if (m?.[1]) current = m[1].replace(/^(\.\.\/)+/, '').replace(/^.*node_modules\//, 'node_modules/');
    sources.push(current);
  }
  return sources;
};

/**
 * Self time by function and by source file from a .cpuprofile (V8 format). Percentages are of the
 * busy time: `(idle)` samples (the event loop waiting for I/O) are left out.
 */
const summariseProfile = (file: string, bundleFile: string) => {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const sources = bundleSources(bundleFile);
  const bundleUrl = `file://${bundleFile}`;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  let idle = 0;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const source =
      cf.url === bundleUrl
        ? (sources[cf.lineNumber] ?? '(bundle)')
        : cf.url
          ? cf.url.replace(/^file:\/\//, '')
          : `(${cf.functionName.replace(/[()]/g, '') || 'native'})`;
    const fn = `${cf.functionName || '(anonymous)'}${cf.url ? `  ${source}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    files.set(source, (files.get(source) ?? 0) + us);
  }
  const busy = [...self.values()].reduce((a, b) => a + b, 0) - idle;
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / busy }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, functions: top(fns, 30), files: top(files, 20) };
};

const table = (rows: StepResult[]): string[] => {
  const head = [
    'system',
    'transport',
    'target/s',
    'offered/s',
    'achieved/s',
    'ok',
    'failed',
    'retrans',
    'server errors',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'probe p50 ms',
    'probe p99 ms',
    'probe max ms',
    'server CPU s',
    'CPU ms/call',
    'SIPp CPU s',
    'other procs CPU s',
  ];
  const body = rows.map((r) => [
    r.system,
    r.transport.toUpperCase(),
    String(r.targetCps),
    fmt(r.offeredCps, 1),
    fmt(r.achievedCps, 1),
    String(r.successful),
    String(r.failed),
    String(r.retransmissions),
    String(r.serverErrors),
    fmt(r.p50Ms),
    fmt(r.p95Ms),
    fmt(r.p99Ms),
    fmt(r.maxMs),
    fmt(r.probe?.p50Ms ?? Number.NaN, 2),
    fmt(r.probe?.p99Ms ?? Number.NaN, 2),
    fmt(r.probe?.maxMs ?? Number.NaN, 2),
    fmt(r.serverCpuS, 2),
    fmt((1000 * r.serverCpuS) / Math.max(1, r.successful + (r.probe?.completed ?? 0)), 3),
    fmt(r.sippCpuS, 2),
    fmt(r.othersCpuS, 2),
  ]);
  const row = (cols: string[]) => `| ${cols.join(' | ')} |`;
  const separator = `|${head.map((_, j) => (j < 2 ? '---' : '---:')).join('|')}|`;
  return [row(head), separator, ...body.map(row)];
};

const versionOf = (cmd: string, args: string[]) =>
  (spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0) ?? 'unknown';

const main = async () => {
  for (const tool of ['sipp', 'kamailio']) {
    if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed`);
  }
  const coarseMs = coarseClockMs();
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    sipp: versionOf('sipp', ['-v']),
    kamailio: versionOf('kamailio', ['-v']),
    sippClockResolutionMs: coarseMs,
    edgeRuntime: 'scripts/bench-edge-server.ts bundled by esbuild, run by node (no tsx)',
    loadAverageAtStart: loadavg(),
    // The code measured: edge/ and sip/ change often, so say which commit and whether it was modified.
    commit:
      spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown',
    uncommittedEdgeOrSip:
      (
        spawnSync('git', ['status', '--porcelain', 'edge', 'sip'], { encoding: 'utf8' }).stdout ?? ''
      ).trim() !== '',
  };
  console.log(
    `bench:edge — ${env.cpus} × ${env.cpuModel}, Node ${env.node}, ${env.sipp}, ${env.kamailio}\n` +
      `code: ${env.commit}${env.uncommittedEdgeOrSip ? ' with uncommitted changes in edge/ or sip/' : ''}\n` +
      `${opts.calls} calls per step (+ ${opts.probeRate}/s probe calls); UDP at ${opts.rates.join(', ')}/s, TCP (one connection) at ` +
      `${opts.tcpRates.join(', ')}/s; SIPp RTD resolution ${coarseMs ?? '?'} ms` +
      (opts.profile
        ? '\nPROFILING: the edge runs under --cpu-prof; its figures are slowed by the profiler'
        : ''),
  );

  let profile: ReturnType<typeof summariseProfile> | undefined;
  let profileFile: string | undefined;
  if (opts.only !== 'kamailio') {
    console.log('\nours: SIP edge in a child process, in-process answering function');
    const profileDir = opts.profile ? join(work, 'profile') : undefined;
    const edge = await startEdge(profileDir);
    try {
      await warmup('ours', edge.ports.udp);
      await runSteps({
        system: 'ours',
        ports: edge.ports,
        edge,
        serverCpu: () => edge.cpuSeconds(),
        serverDiagnostics: async () => {
          const s = await edge.stats();
          return { count: s.diagnosticCount, lines: s.diagnostics };
        },
        calleeCpu: () => 0,
      });
    } finally {
      await edge.stop();
    }
    if (profileDir) {
      const file = existsSync(profileDir)
        ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
        : undefined;
      if (file) {
        profileFile = join(tmpdir(), `bench-edge-${process.pid}.cpuprofile`);
        copyFileSync(join(profileDir, file), profileFile);
        profile = summariseProfile(profileFile, join(work, 'bench-edge-server.mjs'));
      } else console.log('no CPU profile was written');
    }
  }

  if (opts.only !== 'ours') {
    console.log('\nbaseline: Kamailio stateful proxy (tm t_relay, record_route) → SIPp UAS');
    const kamPort = await freePort();
    const uasPorts = { udp: await freePort(), tcp: await freePort() };
    const { child: kam, diagnostics: kamDiagnostics } = await startKamailio(kamPort, uasPorts);
    let uas: ChildProcess | undefined;
    try {
      const kamPid = kam.pid as number;
      uas = await startUas(uasPorts.udp, 'udp');
      await warmup('kamailio', kamPort);
      await runSteps({
        system: 'kamailio',
        ports: { udp: kamPort, tcp: kamPort },
        serverCpu: async () => treeCpuSeconds(kamPid),
        serverDiagnostics: async () => kamDiagnostics(),
        calleeCpu: () => (uas?.pid === undefined ? 0 : procCpuSeconds(uas.pid)),
        onTransport: async (t) => {
          if (t === 'udp') return;
          if (uas) await stopChild(uas);
          uas = await startUas(uasPorts[t], t);
        },
      });
    } finally {
      if (uas) await stopChild(uas);
      await stopChild(kam);
    }
  }

  const lines = table(results);
  console.log(`\nResults (${opts.calls} calls per step; latency = INVITE → 200 at the caller, SIPp RTD)\n`);
  for (const l of lines) console.log(l);
  const goal = results.filter((r) => r.system === 'ours' && r.transport === 'udp' && r.targetCps >= 1000);
  const met = goal.filter((r) => r.failed === 0 && r.achievedCps >= 0.95 * r.targetCps);
  const goalLine =
    goal.length > 0
      ? `Goal (≥ 1,000 calls/s over UDP, no failed call): ${met.length > 0 ? 'MET' : 'NOT MET'} — ` +
        goal
          .map((r) => `${r.targetCps}/s: ${fmt(r.achievedCps, 1)}/s achieved, ${r.failed} failed`)
          .join('; ')
      : undefined;
  if (goalLine) console.log(`\n${goalLine}`);
  if (profile) {
    console.log(
      `\nCPU profile of the edge: ${fmt(profile.busyMs / 1000, 2)} s busy, ${fmt(profile.idleMs / 1000, 1)} s idle; ` +
        'self time in % of busy time, by source file:',
    );
    for (const f of profile.files) console.log(`  ${fmt(f.pct, 1).padStart(5)} %  ${f.name}`);
    console.log('by function:');
    for (const f of profile.functions) console.log(`  ${fmt(f.pct, 1).padStart(5)} %  ${f.name}`);
    console.log(`(full profile: ${profileFile}; open it in Chrome DevTools or VS Code)`);
  }

  if (opts.save) {
    const outDir = resolve('bench/results');
    mkdirSync(outDir, { recursive: true });
    const stamp = env.date.slice(0, 16).replace(/:/g, '-');
    const base = join(outDir, `edge-${stamp}`);
    writeFileSync(`${base}.json`, `${JSON.stringify({ env, options: opts, results, profile }, null, 2)}\n`);
    const md = [
      `# SIP edge benchmark, ${env.date}`,
      '',
      `Machine: ${env.cpus} × ${env.cpuModel}; Node ${env.node}; ${env.sipp}; ${env.kamailio}.`,
      `Code: ${env.commit}${env.uncommittedEdgeOrSip ? ' with uncommitted changes in edge/ or sip/' : ''}.`,
      `Command: \`npm run bench:edge${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`.`,
      '',
      '- **ours**: the SIP edge (scripts/bench-edge-server.ts, own process, esbuild bundle run by node)',
      '  answering every INVITE itself',
      '  (in-process answering function; 100, then 200 with SDP; ACK; BYE → 200); no authentication.',
      '- **kamailio**: Kamailio as a stateful proxy (tm `t_relay()`, `record_route()`, 2 UDP + 2 TCP',
      '  workers) in front of a SIPp UAS answering 200 at once (two hops, one more process on the same cores).',
      '- Caller: SIPp test/sipp/bench/bench-uac.xml (INVITE → 100? → 200 → ACK → BYE → 200); UDP, and TCP',
      '  over one connection. Latency: INVITE → 200 per successful call (SIPp RTD, `-trace_rtt`); SIPp',
      `  reads CLOCK_MONOTONIC_COARSE, resolution ${coarseMs ?? '?'} ms here, so latencies are multiples of it.`,
      `- probe: ${opts.probeRate} calls/s more from the benchmark driver itself (same call flow, UDP or TCP),`,
      '  INVITE → 200 timed with hrtime (sub-millisecond), which SIPp cannot resolve.',
      '- achieved/s = successful calls / SIPp run time; offered/s = calls over the span of INVITE sends;',
      '  failed = SIPp failed calls + calls not finished; server errors = error lines the server logged',
      '  (edge diagnostics, Kamailio ERROR lines); server CPU = user+system seconds of the edge',
      "  process / Kamailio's processes during the step; SIPp CPU = the caller (and, for the baseline, the",
      '  callee) during the step; other procs = CPU of processes outside the benchmark (disturbance). All',
      '  CPU figures are per process (exact run time, not the tick-sampled /proc/stat).',
      ...(opts.profile ? ['', '**Profiled run: the edge ran under `--cpu-prof`.**'] : []),
      '',
      ...lines,
      '',
      ...(goalLine ? [goalLine, ''] : []),
    ];
    if (profile) {
      md.push(
        '## Where the edge spends its CPU',
        '',
        `Self time in % of busy time (${fmt(profile.busyMs / 1000, 2)} s busy, idle left out).`,
        '',
        '| % | source file |',
        '|---:|---|',
      );
      for (const f of profile.files) md.push(`| ${fmt(f.pct, 1)} | ${f.name} |`);
      md.push('', '| % | function |', '|---:|---|');
      for (const f of profile.functions) md.push(`| ${fmt(f.pct, 1)} | \`${f.name}\` |`);
      md.push('');
    }
    writeFileSync(`${base}.md`, md.join('\n'));
    console.log(`\nwritten: ${base}.json, ${base}.md`);
  }
};

main()
  .then(() => {
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  })
  .catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    killAllChildren();
    rmSync(work, { recursive: true, force: true });
    process.exit(1);
  });
