/**
 * Child harness of scripts/bench-edge.ts: runs the SIP edge alone in its own process (its own event
 * loop and CPU account, and `node --cpu-prof` can profile it) on 127.0.0.1 with `authenticate: false`
 * and an in-process answering function: `routeCall` returns `{ action: 'answer', sdp }` at once, so
 * the edge answers every INVITE itself (200 with SDP, retransmitted until the ACK; BYE answered).
 *
 * Protocol, one JSON object per line. On stdout, once listening: `{"ready":true,"udpPort":…,
 * "tcpPort":…}` (with `--port 0` the two differ: each socket gets its own ephemeral port). On stdin:
 * - `stats` → `{"stats":{…}}`: CPU, memory, live calls and transactions, event-loop delay since the
 *   previous `stats`, diagnostics lines;
 * - `cpu` → `{"cpu":{"user":…,"system":…}}` (µs, process.cpuUsage());
 * - `stop` → `{"stopped":true}`, then exit.
 * The harness also exits when stdin closes (the driver died), so it never outlives the benchmark.
 *
 *   node --import tsx scripts/bench-edge-server.ts [--port 0]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { FunctionsClient } from '../edge/functions-client.ts';
import { startSipEdge } from '../edge/sip-edge.ts';
import { sdp } from '../test/support/sdp.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const SDP = sdp('edge', 40000);

const notUsed = (what: string) => () => Promise.reject(new Error(`${what} is not used by the benchmark`));

/** The in-process answering function (only routeCall and credentials are used for INVITE). */
const functions: FunctionsClient = {
  credentials: async () => undefined,
  register: notUsed('register'),
  bindings: notUsed('bindings'),
  routeCall: async () => ({ action: 'answer', sdp: SDP }),
  publishAffiliation: notUsed('publishAffiliation'),
  cancelCall: notUsed('cancelCall'),
  releaseCall: notUsed('releaseCall'),
};

const diagnostics: string[] = [];
let diagnosticCount = 0;

const edge = await startSipEdge({
  domain: 'bench.example',
  host: '127.0.0.1',
  port: Number(arg('--port') ?? 0),
  functions,
  authSecret: Buffer.from('bench-secret-not-used-without-authentication'),
  authenticate: false,
  log: (line) => {
    diagnosticCount++;
    if (diagnostics.length < 20) diagnostics.push(line);
  },
});
edge.transport.onError((e) => {
  diagnosticCount++;
  if (diagnostics.length < 20) diagnostics.push(`transport: ${e.message}`);
});

/** The histogram records whole timer intervals (resolution included): subtract it to get the delay. */
const LOOP_RESOLUTION_MS = 5;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();

const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const stats = () => {
  const cpu = process.cpuUsage();
  const s = {
    pid: process.pid,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: process.memoryUsage().rss,
    liveCalls: edge.callCount(),
    transactions: edge.transactions.size(),
    loopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    loopDelayMaxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
    diagnosticCount,
    diagnostics: diagnostics.splice(0),
  };
  loopDelay.reset();
  return s;
};

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await edge.stop();
  write({ stopped: true });
  // process.exit writes the --cpu-prof profile, if one was asked for.
  process.exit(0);
};

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats') write({ stats: stats() });
  else if (cmd === 'cpu') write({ cpu: process.cpuUsage() });
  else if (cmd === 'stop') void stop();
});
lines.on('close', () => void stop());
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

write({ ready: true, udpPort: edge.udp.port, tcpPort: edge.tcp.port, pid: process.pid });
