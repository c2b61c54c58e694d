/**
 * Child process of scripts/bench.ts: the local MCPTT systems of a generated configuration, in memory
 * (what `npm start -- --config FILE --memory --quiet` runs), plus the counters the benchmark needs.
 * It runs in its own process so that its CPU seconds and RSS are the systems' alone.
 *
 * Counted, cumulatively (the driver takes differences between two snapshots):
 * - every HTTP API request per system and route, with its duration (one Lambda invocation each in AWS);
 * - every DynamoDB request per system and operation, with the capacity units dynalite reports
 *   (`ReturnConsumedCapacity: TOTAL` is added to each request by a middleware on the store's client);
 * - SQS requests (fauxqs) and Step Functions API requests by operation, and edge control API requests,
 *   seen by a `node:diagnostics_channel` subscriber on every HTTP server of this process;
 * - the call setup executions through the local Step Functions' execution observer
 *   (local/stepfunctions.ts `executionObservers`): states entered/exited with their times (state
 *   transitions), and the Lambda invocations of Task states with their durations.
 *
 * Users are seeded here rather than by local/seed.ts: seeding hashes each password with scrypt
 * (N = 16384, about 35 ms a user on this machine, so 35 s for 1,000 members); here the API log-in
 * hash uses N = 1024 (about 2 ms). Digest HA1 values are the same as seed.ts computes.
 *
 *   node --import tsx scripts/bench/server.ts --config FILE [--system DOMAIN]   (driven over IPC by
 *   scripts/bench.ts; with --system, only that system of the file runs here, the others in their own
 *   processes: scripts/bench/systems-group.ts)
 */
import dc from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { computeHa1, digestUsername, hashPassword } from '#core/digest-credentials.ts';
import { normalizeSipUri } from '#core/ids.ts';
import type { Role } from '#core/model.ts';
import { type LocalConfig, parseLocalConfig } from '#local/config.ts';
import { matchRoute } from '#local/http-api.ts';
import { executionObservers, type LocalExecutionEvent } from '#local/stepfunctions.ts';
import { type LocalSystems, startLocalSystems } from '#local/systems.ts';
import { ROUTES } from '../../lib/routes.ts';
import { serveIpc } from './common.ts';

export interface TimedCounter {
  count: number;
  /** Sum of durations, ms. */
  ms: number;
  /** Sum of durations each rounded up to a whole ms (Lambda bills per 1 ms). */
  billedMs: number;
  errors: number;
}

export interface DynamoCounter {
  requests: number;
  readUnits: number;
  writeUnits: number;
  conditionalFailures: number;
  errors: number;
}

export interface ServerSnapshot {
  at: number;
  cpuUs: number;
  rssBytes: number;
  /** Per system, per route key (`POST /edge/leg-results`): HTTP API requests = Lambda invocations. */
  api: Record<string, Record<string, TimedCounter & { fn: string }>>;
  /** Per system, per operation. */
  dynamo: Record<string, Record<string, DynamoCounter>>;
  sqs: Record<string, number>;
  sfnApi: Record<string, number>;
  /** Edge control API requests (`POST /v1/legs`, …) by system. */
  control: Record<string, Record<string, TimedCounter>>;
  /** Per system: Lambda invocations of workflow Task states by state. */
  workflowLambdas: Record<string, Record<string, TimedCounter>>;
  /** Per system: states entered (Step Functions Standard bills each state transition). */
  stateTransitions: Record<string, number>;
  executions: Record<string, { started: number; ended: number; running: number }>;
  edges: Record<string, { legs: number; held: number; calls: number; transactions: number }>;
  loopDelay: { p99Ms: number; maxMs: number };
  errorLines: number;
  lastErrors: string[];
}

export interface ExecutionTrace {
  arn: string;
  system: string;
  callId: string;
  sipCallId?: string;
  status?: string;
  start: number;
  end?: number;
  states: { name: string; type: string; index?: number; entered: number; exited?: number }[];
  lambdas: { state: string; invoked: number; returned?: number }[];
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const configFile = arg('--config');
if (!configFile) throw new Error('--config FILE is required');
const config: LocalConfig = parseLocalConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
/** The one system this process runs (`--system`); undefined: all of them. */
const onlySystem = arg('--system');
/** Each system's table in a LevelDB folder under this one (`--data-dir`); absent: in memory. */
const dataDir = arg('--data-dir');
/** The table of this process's one system is served there (`--dynamodb-endpoint`, with `--system`). */
const dynamodbEndpoint = arg('--dynamodb-endpoint');
if (dynamodbEndpoint !== undefined && onlySystem === undefined)
  throw new Error('--dynamodb-endpoint needs --system');
const ownSystems = config.systems.filter((s) => onlySystem === undefined || s.domain === onlySystem);
if (ownSystems.length === 0) throw new Error(`--system ${onlySystem}: not in ${configFile}`);

// ---------------------------------------------------------------- counters

const timed = (): TimedCounter => ({ count: 0, ms: 0, billedMs: 0, errors: 0 });
const add = (c: TimedCounter, ms: number, error = false) => {
  c.count++;
  c.ms += ms;
  c.billedMs += Math.max(1, Math.ceil(ms));
  if (error) c.errors++;
};
const bucket = <T>(o: Record<string, T>, k: string, make: () => T): T => {
  let v = o[k];
  if (v === undefined) {
    v = make();
    o[k] = v;
  }
  return v;
};

const api: ServerSnapshot['api'] = {};
const dynamo: ServerSnapshot['dynamo'] = {};
const sqs: Record<string, number> = {};
const sfnApi: Record<string, number> = {};
const control: ServerSnapshot['control'] = {};
const workflowLambdas: ServerSnapshot['workflowLambdas'] = {};
const stateTransitions: Record<string, number> = {};
const executionCounts: ServerSnapshot['executions'] = {};
let errorLines = 0;
const lastErrors: string[] = [];

const noteError = (line: string) => {
  errorLines++;
  lastErrors.push(line.slice(0, 400));
  if (lastErrors.length > 10) lastErrors.shift();
};
// The functions log warnings and errors with console.error (LOG_LEVEL=warn hides info lines).
const consoleError = console.error.bind(console);
console.error = (...args: unknown[]) => {
  noteError(args.map(String).join(' '));
  consoleError(...args);
};

// ---------------------------------------------------------------- every HTTP server of this process

/** Edge control API ports → system (filled once the systems run). */
const controlPorts = new Map<number, string>();
const startedAt = new WeakMap<object, number>();
dc.subscribe('http.server.request.start', (m) => {
  startedAt.set((m as { request: object }).request, performance.now());
});
dc.subscribe('http.server.response.finish', (m) => {
  const { request, response, server } = m as {
    request: IncomingMessage;
    response: ServerResponse;
    server: Server;
  };
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') {
    const [service, op = '?'] = target.split('.');
    if (service === 'AmazonSQS') sqs[op] = (sqs[op] ?? 0) + 1;
    else if (service === 'AWSStepFunctions') sfnApi[op] = (sfnApi[op] ?? 0) + 1;
    return;
  }
  const port = (server.address() as AddressInfo | null)?.port;
  const system = port !== undefined ? controlPorts.get(port) : undefined;
  if (!system) return;
  const path = (request.url ?? '').split('?')[0]?.replace(/\/v1\/(legs|held)\/[^/]+/, '/v1/$1/*') ?? '';
  const t0 = startedAt.get(request);
  add(
    bucket(
      bucket(control, system, () => ({})),
      `${request.method} ${path}`,
      timed,
    ),
    t0 === undefined ? 0 : performance.now() - t0,
    response.statusCode >= 400,
  );
});

// ---------------------------------------------------------------- call setup executions

const traces = new Map<string, ExecutionTrace>();
const systemOfArn = (arn: string): string => {
  const machine = arn.split(':')[6] ?? '';
  return (
    config.systems.find((s) => machine === `call-setup-${s.domain.replace(/[^A-Za-z0-9-]/g, '-')}`)?.domain ??
    machine
  );
};

executionObservers.add((e: LocalExecutionEvent) => {
  if (e.type === 'ExecutionStarted') {
    const system = systemOfArn(e.executionArn);
    bucket(executionCounts, system, () => ({ started: 0, ended: 0, running: 0 })).started++;
    traces.set(e.executionArn, {
      arn: e.executionArn,
      system,
      callId: e.name,
      start: e.timestamp,
      states: [],
      lambdas: [],
    });
    return;
  }
  const t = traces.get(e.executionArn);
  if (!t) return;
  switch (e.type) {
    case 'ExecutionEnded':
      t.end = e.timestamp;
      t.status = e.status;
      bucket(executionCounts, t.system, () => ({ started: 0, ended: 0, running: 0 })).ended++;
      return;
    case 'StateEntered':
      stateTransitions[t.system] = (stateTransitions[t.system] ?? 0) + 1;
      t.states.push({
        name: e.state,
        type: e.stateType,
        entered: e.timestamp,
        ...(e.index !== undefined ? { index: e.index } : {}),
      });
      return;
    case 'StateExited':
    case 'StateFailed':
    case 'StateCaught': {
      for (let i = t.states.length - 1; i >= 0; i--) {
        const s = t.states[i];
        if (s && s.name === e.state && s.index === e.index && s.exited === undefined) {
          s.exited = e.timestamp;
          break;
        }
      }
      return;
    }
    case 'LambdaInvoked':
      t.lambdas.push({ state: e.state, invoked: e.timestamp });
      return;
    case 'LambdaReturned': {
      const l = [...t.lambdas].reverse().find((x) => x.state === e.state && x.returned === undefined);
      if (l) {
        l.returned = e.timestamp;
        add(
          bucket(
            bucket(workflowLambdas, t.system, () => ({})),
            e.state,
            timed,
          ),
          l.returned - l.invoked,
        );
      }
      return;
    }
    default:
      return;
  }
});

// ---------------------------------------------------------------- the systems

const seedless: LocalConfig = { ...config, systems: config.systems.map((s) => ({ ...s, users: [] })) };
const local: LocalSystems = await startLocalSystems(seedless, {
  ...(onlySystem !== undefined ? { only: [onlySystem] } : {}),
  ...(dataDir !== undefined ? { dataDir, reset: true } : {}),
  ...(dynamodbEndpoint !== undefined ? { dynamodbEndpoint } : {}),
  onRequest: (r) => {
    const route = matchRoute(ROUTES, r.method, r.path)?.route;
    const key = route ? `${route.method} ${route.path}` : `${r.method} (no route)`;
    const c = bucket(
      bucket(api, r.system, () => ({})),
      key,
      () => ({ ...timed(), fn: route?.fn ?? '-' }),
    );
    add(c, r.ms, r.status >= 500);
  },
  sipLog: (line) => noteError(`edge ${line}`),
});

for (const s of local.systems) {
  controlPorts.set(Number(new URL(s.control.url).port), s.domain);
  // Store and CallStore share the system's document client: count its requests and capacity units.
  const doc = (s.deps.store as unknown as { doc: DynamoDBDocumentClient }).doc;
  const counters = bucket(dynamo, s.domain, () => ({}));
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const op = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
      const c = bucket(counters, op, () => ({
        requests: 0,
        readUnits: 0,
        writeUnits: 0,
        conditionalFailures: 0,
        errors: 0,
      }));
      c.requests++;
      const isRead = /^(Get|BatchGet|Query|Scan|TransactGet)/.test(op);
      try {
        const out = await next(args);
        const cc = (
          out.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }
        ).ConsumedCapacity;
        const units = (Array.isArray(cc) ? cc : cc ? [cc] : []).reduce(
          (a, x) => a + (x.CapacityUnits ?? 0),
          0,
        );
        if (isRead) c.readUnits += units || 0.5;
        else c.writeUnits += units || 1;
        return out;
      } catch (e) {
        // A failed conditional write is billed like a write of the item (at least 1 WRU).
        if ((e as Error).name === 'ConditionalCheckFailedException') {
          c.conditionalFailures++;
          c.writeUnits += 1;
        } else c.errors++;
        throw e;
      }
    },
    { step: 'initialize', name: 'benchConsumedCapacity', override: true },
  );
}

// Users: the configuration's, with the cheaper API log-in hash (see the module comment).
const seedStarted = performance.now();
for (const cfg of ownSystems) {
  const store = local.get(cfg.domain).deps.store;
  for (let i = 0; i < cfg.users.length; i += 50) {
    await Promise.all(
      cfg.users.slice(i, i + 50).map((u) => {
        const mcpttId = normalizeSipUri(u.mcpttId, cfg.domain);
        const username = digestUsername(mcpttId);
        return store.putUser(
          { mcpttId, displayName: u.displayName, roles: [...new Set<Role>(u.roles ?? ['user'])] },
          {
            realm: cfg.domain,
            ha1Md5: computeHa1(username, cfg.domain, u.password, 'MD5'),
            ha1Sha256: computeHa1(username, cfg.domain, u.password, 'SHA-256'),
            passwordHash: hashPassword(u.password, { N: 1024 }),
          },
        );
      }),
    );
  }
}
const seedMs = performance.now() - seedStarted;

// ---------------------------------------------------------------- requests from the driver

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

const snapshot = (): ServerSnapshot => {
  const cpu = process.cpuUsage();
  const edges: ServerSnapshot['edges'] = {};
  for (const s of local.systems) {
    edges[s.domain] = {
      legs: s.edge.legCount(),
      held: s.edge.heldCount(),
      calls: s.edge.callCount(),
      transactions: s.edge.transactions.size(),
    };
  }
  const running: ServerSnapshot['executions'] = structuredClone(executionCounts);
  for (const v of Object.values(running)) v.running = v.started - v.ended;
  const snap: ServerSnapshot = structuredClone({
    at: Date.now(),
    cpuUs: cpu.user + cpu.system,
    rssBytes: process.memoryUsage.rss(),
    api,
    dynamo,
    sqs,
    sfnApi,
    control,
    workflowLambdas,
    stateTransitions,
    executions: running,
    edges,
    loopDelay: {
      p99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - 10),
      maxMs: Math.max(0, loopDelay.max / 1e6 - 10),
    },
    errorLines,
    lastErrors: [...lastErrors],
  });
  loopDelay.reset();
  return snap;
};

// ---------------------------------------------------------------- CPU profile of a step (--profile)

export interface ProfileSummary {
  busyMs: number;
  /** Self time by source file of this repository, or by package. */
  byPlace: { name: string; ms: number; pct: number }[];
  byFunction: { name: string; ms: number; pct: number }[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

const root = new URL('../../', import.meta.url).href;
const placeOf = (url: string, fn: string): string => {
  if (!url) return `(${fn.replace(/[()]/g, '') || 'native'})`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return `node_modules/${parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (url.startsWith(root)) return url.slice(root.length);
  return url.replace(/^node:/, 'node:');
};

const summarize = (p: {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}): ProfileSummary => {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  (p.samples ?? []).forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas?.[i] ?? 0));
  });
  const places = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)?.callFrame;
    if (!cf || cf.functionName === '(idle)') continue;
    busy += us;
    const place = placeOf(cf.url, cf.functionName);
    places.set(place, (places.get(place) ?? 0) + us);
    const fn = `${cf.functionName || '(anonymous)'} ${place}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / Math.max(1, busy) }));
  return { busyMs: busy / 1000, byPlace: top(places), byFunction: top(fns) };
};

let session: Session | undefined;

serveIpc({
  profileStart: async () => {
    session ??= new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    return {};
  },
  profileStop: async () => {
    if (!session) return {};
    const { profile } = (await session.post('Profiler.stop')) as unknown as {
      profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] };
    };
    await session.post('Profiler.disable');
    session.disconnect();
    session = undefined;
    return { profile: summarize(profile) };
  },
  snapshot: () => ({ snapshot: snapshot() }),
  /** Heap in use after a full garbage collection (node --expose-gc): what the process really retains. */
  heap: () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const m = process.memoryUsage();
    return { collected: gc !== undefined, heapUsed: m.heapUsed, external: m.external, rss: m.rss };
  },
  /** This process's memory now, without a GC (the bench samples it during a step). */
  memory: () => ({
    system: onlySystem ?? 'all',
    ...process.memoryUsage(),
    // Committed bytes by V8 heap space (new_space, old_space, code_space, large_object_space, …).
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size])),
  }),
  /** A V8 heap snapshot of this process after a full GC, written into `dir` (bench --heap-snapshot). */
  heapSnapshot: (m: Record<string, unknown>) => {
    (globalThis as { gc?: () => void }).gc?.();
    const file = join(String(m.dir), `heap-${onlySystem ?? 'all'}-${Date.now()}.heapsnapshot`);
    return { file: writeHeapSnapshot(file) };
  },
  /** Executions that ended since the last call, with the SIP Call-ID of each call (read afterwards). */
  executions: async () => {
    const ended = [...traces.values()].filter((t) => t.end !== undefined);
    for (const t of ended) traces.delete(t.arn);
    for (let i = 0; i < ended.length; i += 20) {
      await Promise.all(
        ended.slice(i, i + 20).map(async (t) => {
          const call = await local.get(t.system).deps.calls?.getCall(t.callId);
          if (call) t.sipCallId = call.sipCallId;
        }),
      );
    }
    return { executions: ended };
  },
  stop: async () => {
    await local.stop();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});

process.send?.({
  type: 'ready',
  pid: process.pid,
  seedMs,
  systems: local.systems.map((s) => ({
    domain: s.domain,
    url: s.url,
    sipPort: s.sipPort,
    controlUrl: s.control.url,
  })),
});
