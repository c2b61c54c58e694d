/**
 * The SIP edge container's entry point (Dockerfile, lib/sip-edge-service.ts): starts the SIP edge, its
 * control API and a health endpoint from environment variables (lib/edge-config.ts EDGE_ENV), wired as
 * the local runtime wires them (local/system.ts), and drains on SIGTERM.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `SYSTEM_DOMAIN` | the MCPTT system's domain | required |
 * | `API_URL` | base URL of the system's HTTP API (`edge` routes) | required |
 * | `API_AUTH` | `iam` (SigV4 with the task role) or `bearer` (the control token) | `bearer` |
 * | `EDGE_CONTROL_TOKEN` / `EDGE_CONTROL_TOKEN_ARN` | the control API's bearer token, or its secret | one required |
 * | `HOST` | bind address of every listener | `0.0.0.0` |
 * | `SIP_PORT`, `CONTROL_PORT`, `HEALTH_PORT` | UDP+TCP SIP, control API, health | 5060, 8061, 8062 |
 * | `EDGE_METRICS_ENDPOINT` | `udp://host:port` of the CloudWatch agent's EMF listener | no metrics |
 * | `EDGE_METRICS_LOG_GROUP` | the log group the agent writes the EMF lines to | the agent's default |
 * | `DRAIN_TIMEOUT_MS` | how long SIGTERM waits for live transactions and held INVITEs | 30000 |
 * | `ECS_CONTAINER_METADATA_URI_V4` | set by ECS: the task's private address, for the edge's own control URL | — |
 * | `EDGE_CONTROL_URL` | the control URL to name when the task metadata cannot be read | none |
 *
 * The edge names its own control API (`http://<task private IP>:<control port>`) with every call it
 * asks the functions to route, so the functions act on a call it holds (held INVITE, member legs) at
 * this task and not at whichever task the system's Cloud Map name resolves to (decision 0011).
 *
 * `GET /health` on the health port answers 200 with the edge's counts while it serves, 503 while it
 * drains (the load balancer then stops sending new traffic).
 */
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { isIPv4 } from 'node:net';
import { pathToFileURL } from 'node:url';
import { edgeControlBaseUrl } from '../adapters/edge-control-client.ts';
import { readSecret } from '../adapters/secrets.ts';
import { CONTROL_PORT, EDGE_ENV, HEALTH_PORT, SIP_PORT } from '../lib/edge-config.ts';
import { type ControlApi, startControlApi } from './control-api.ts';
import {
  createFunctionsClient,
  createSigningFetch,
  createSigV4Signer,
  type RequestSigner,
  regionOfApiUrl,
} from './functions-client.ts';
import { type SipEdge, startSipEdge } from './sip-edge.ts';

/** The edge's configuration, from the environment. */
export interface EdgeConfig {
  domain: string;
  apiUrl: string;
  apiAuth: 'iam' | 'bearer';
  token: { value: string } | { secretArn: string };
  host: string;
  /** Put in Via and Contact instead of the bind host (SIP_ADVERTISED_HOST). */
  advertisedHost?: string;
  sipPort: number;
  controlPort: number;
  healthPort: number;
  metricsEndpoint?: string;
  metricsLogGroup?: string;
  drainTimeoutMs: number;
  region?: string;
  /** The ECS task metadata endpoint v4 (ECS_CONTAINER_METADATA_URI_V4), for the task's own address. */
  metadataUri?: string;
  /** The control URL to name when the metadata cannot be read (EDGE_CONTROL_URL). */
  controlUrl?: string;
}

const port = (env: Record<string, string | undefined>, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${name} must be a port number, got ${raw}`);
  return n;
};

/**
 * Reads and checks the configuration.
 * @throws Error naming the variable that is missing or wrong.
 */
export const edgeConfigFromEnv = (env: Record<string, string | undefined> = process.env): EdgeConfig => {
  const required = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) throw new Error(`missing environment variable ${name}`);
    return v;
  };
  const domain = required(EDGE_ENV.systemDomain).toLowerCase();
  const apiUrl = required(EDGE_ENV.apiUrl).replace(/\/+$/, '');
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new Error(`${EDGE_ENV.apiUrl} must be an http(s) URL, got ${apiUrl}`);
  }
  const apiAuth = (env[EDGE_ENV.apiAuth] ?? 'bearer').trim().toLowerCase();
  if (apiAuth !== 'iam' && apiAuth !== 'bearer') {
    throw new Error(`${EDGE_ENV.apiAuth} must be iam or bearer, got ${apiAuth}`);
  }
  const tokenValue = env[EDGE_ENV.controlToken];
  const tokenArn = env[EDGE_ENV.controlTokenArn];
  if (!tokenValue && !tokenArn) {
    throw new Error(`missing environment variable ${EDGE_ENV.controlToken} or ${EDGE_ENV.controlTokenArn}`);
  }
  const drain = Number(env.DRAIN_TIMEOUT_MS ?? 30_000);
  if (!Number.isFinite(drain) || drain < 0) throw new Error('DRAIN_TIMEOUT_MS must be a number of ms');
  const controlUrlRaw = env[EDGE_ENV.controlUrl]?.trim();
  const controlUrl = controlUrlRaw ? edgeControlBaseUrl(controlUrlRaw) : undefined;
  if (controlUrlRaw && !controlUrl) {
    throw new Error(`${EDGE_ENV.controlUrl} must be an http(s) URL of a host and port, got ${controlUrlRaw}`);
  }
  const metadataUri = env[EDGE_ENV.ecsMetadataUri]?.trim();
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOfApiUrl(apiUrl);
  if (apiAuth === 'iam' && !region) {
    throw new Error(`${EDGE_ENV.apiAuth}=iam needs AWS_REGION (or an execute-api ${EDGE_ENV.apiUrl})`);
  }
  return {
    domain,
    apiUrl,
    apiAuth,
    token: tokenValue ? { value: tokenValue } : { secretArn: tokenArn as string },
    host: env[EDGE_ENV.host]?.trim() || '0.0.0.0',
    ...(env[EDGE_ENV.advertisedHost]?.trim() ? { advertisedHost: env[EDGE_ENV.advertisedHost]?.trim() } : {}),
    sipPort: port(env, EDGE_ENV.sipPort, SIP_PORT),
    controlPort: port(env, EDGE_ENV.controlPort, CONTROL_PORT),
    healthPort: port(env, EDGE_ENV.healthPort, HEALTH_PORT),
    ...(env[EDGE_ENV.metricsEndpoint] ? { metricsEndpoint: env[EDGE_ENV.metricsEndpoint] } : {}),
    ...(env[EDGE_ENV.metricsLogGroup] ? { metricsLogGroup: env[EDGE_ENV.metricsLogGroup] } : {}),
    drainTimeoutMs: drain,
    ...(region ? { region } : {}),
    ...(metadataUri ? { metadataUri } : {}),
    ...(controlUrl ? { controlUrl } : {}),
  };
};

/** The parts of the ECS task metadata (v4, `${ECS_CONTAINER_METADATA_URI_V4}/task`) the edge reads. */
interface TaskMetadata {
  Containers?: { DockerId?: string; Name?: string; Networks?: { IPv4Addresses?: string[] }[] }[];
}

/**
 * This task's control URL, `http://<private IPv4>:<port>`, from the ECS task metadata endpoint v4:
 * the first address of the first network of this container (the one whose DockerId ends the
 * metadata URI; in awsvpc mode every container of the task has the task's address). Undefined when
 * the endpoint does not answer or names no IPv4 address.
 */
export const taskControlUrl = async (opts: {
  metadataUri: string;
  port: number;
  fetch?: typeof fetch;
  timeoutMs?: number;
  attempts?: number;
}): Promise<string | undefined> => {
  const doFetch = opts.fetch ?? fetch;
  const base = opts.metadataUri.replace(/\/+$/, '');
  const ownId = base.slice(base.lastIndexOf('/') + 1);
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await doFetch(`${base}/task`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 2000) });
      if (res.ok) {
        const task = (await res.json()) as TaskMetadata;
        const containers = task.Containers ?? [];
        const own = containers.filter((c) => c.DockerId === ownId);
        for (const c of [...own, ...containers]) {
          const address = c.Networks?.[0]?.IPv4Addresses?.[0];
          if (address && isIPv4(address)) return `http://${address}:${opts.port}`;
        }
        return undefined;
      }
    } catch {
      // retried below
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, 200 * attempt));
  }
  return undefined;
};

/**
 * Sends each EMF line as one datagram to the CloudWatch agent, naming the log group it goes to
 * (`_aws.LogGroupName`), so the agent writes where the task role may write.
 */
export const emfWriter = (endpoint: string, logGroup: string | undefined) => {
  const url = new URL(endpoint);
  if (url.protocol !== 'udp:' || !url.port)
    throw new Error(`metrics endpoint must be udp://host:port: ${endpoint}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.unref();
  return {
    write: (line: string) => {
      let out = line;
      if (logGroup) {
        const record = JSON.parse(line) as { _aws?: Record<string, unknown> };
        if (record._aws) record._aws.LogGroupName = logGroup;
        out = JSON.stringify(record);
      }
      socket.send(`${out}\n`, Number(url.port), host, () => undefined);
    },
    close: () => socket.close(),
  };
};

/** A running edge: SIP, control API and health endpoint. */
export interface RunningEdge {
  edge: SipEdge;
  control: ControlApi;
  health: { url: string; port: number };
  /** Stops accepting new work (health 503), waits for live work up to the drain timeout, then stops. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartEdgeOptions {
  log?: (line: string) => void;
  /** The SigV4 signer for `apiAuth: iam` (tests); default: the task role's credentials. */
  signer?: RequestSigner;
  /** Reads the control token from Secrets Manager (tests). */
  readToken?: (secretArn: string) => Promise<string>;
  /** The `fetch` of the task metadata request (tests). */
  metadataFetch?: typeof fetch;
}

export const startEdge = async (config: EdgeConfig, opts: StartEdgeOptions = {}): Promise<RunningEdge> => {
  const log =
    opts.log ?? ((line: string) => console.log(JSON.stringify({ system: config.domain, msg: line })));
  const token =
    'value' in config.token
      ? config.token.value
      : await (opts.readToken ?? readSecret)(config.token.secretArn);
  const signer =
    config.apiAuth === 'iam'
      ? (opts.signer ?? createSigV4Signer({ region: config.region as string }))
      : undefined;
  const metrics = config.metricsEndpoint
    ? emfWriter(config.metricsEndpoint, config.metricsLogGroup)
    : undefined;

  const edge = await startSipEdge({
    domain: config.domain,
    host: config.host,
    ...(config.advertisedHost ? { advertisedHost: config.advertisedHost } : {}),
    port: config.sipPort,
    functions: createFunctionsClient({
      baseUrl: config.apiUrl,
      ...(signer ? { signer } : { edgeToken: token }),
    }),
    // Every task of the system derives the same nonce secret, so any task can check a nonce.
    authSecret: Buffer.from(`digest-nonce:${token}`),
    log,
    ...(metrics ? { metrics: { write: metrics.write } } : {}),
  });
  let control: ControlApi;
  try {
    control = await startControlApi({
      edge,
      host: config.host,
      port: config.controlPort,
      token,
      // Leg reports go to the system's `edge` routes: signed in AWS, with the bearer token locally.
      ...(signer ? { fetch: createSigningFetch(signer, config.apiUrl) } : { reportToken: token }),
      log,
    });
  } catch (e) {
    await edge.stop();
    throw e;
  }
  // The control URL the edge names with each call it routes: this task's own address (ECS task
  // metadata), or the configured one outside ECS; none: the functions use their EDGE_CONTROL_URL.
  const ownUrl =
    (config.metadataUri
      ? await taskControlUrl({
          metadataUri: config.metadataUri,
          port: control.port,
          ...(opts.metadataFetch ? { fetch: opts.metadataFetch } : {}),
        })
      : undefined) ?? config.controlUrl;
  if (config.metadataUri && ownUrl === config.controlUrl) {
    log(`task metadata gave no address; control URL named with calls: ${ownUrl ?? 'none'}`);
  }
  edge.controlUrl = ownUrl;

  let draining = false;
  const health: Server = createServer((req, res) => {
    const ok = req.method === 'GET' && (req.url === '/health' || req.url === '/health/');
    if (!ok) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"status":"not_found"}');
      return;
    }
    const body = JSON.stringify({
      status: draining ? 'draining' : 'ok',
      domain: config.domain,
      transactions: edge.transactions.size(),
      calls: edge.callCount(),
      legs: edge.legCount(),
      held: edge.heldCount(),
    });
    res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' });
    res.end(body);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      health.once('error', reject);
      health.listen(config.healthPort, config.host, () => resolve());
    });
  } catch (e) {
    await control.close();
    await edge.stop();
    throw e;
  }
  const address = health.address();
  const healthPort = typeof address === 'object' && address ? address.port : config.healthPort;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      health.closeAllConnections();
      await new Promise<void>((r) => health.close(() => r()));
      await control.close();
      await edge.stop();
      metrics?.close();
    })();
    return stopped;
  };
  return {
    edge,
    control,
    health: { url: `http://${config.host}:${healthPort}`, port: healthPort },
    async drain() {
      draining = true;
      const deadline = Date.now() + config.drainTimeoutMs;
      while (Date.now() < deadline && (edge.transactions.size() > 0 || edge.heldCount() > 0)) {
        await new Promise((r) => setTimeout(r, 200));
      }
      await stop();
    },
    stop,
  };
};

/** Runs the edge until SIGTERM or SIGINT (the container's process). */
export const main = async (env: Record<string, string | undefined> = process.env): Promise<void> => {
  const config = edgeConfigFromEnv(env);
  const running = await startEdge(config);
  const onSignal = (signal: NodeJS.Signals) => {
    console.log(JSON.stringify({ system: config.domain, msg: `${signal}: draining` }));
    running.drain().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  // Before the ready line: whoever waits for it may stop the edge at once.
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  console.log(
    JSON.stringify({
      system: config.domain,
      msg: `SIP edge ready: udp+tcp ${config.host}:${running.edge.udp.port}, control :${running.control.port} (named as ${running.edge.controlUrl ?? 'none'}), health :${running.health.port}, API ${config.apiUrl} (${config.apiAuth})`,
    }),
  );
};

// Started as a program (the container's `node edge.mjs`), not imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(`SIP edge failed to start: ${(e as Error).message}`);
    process.exit(1);
  });
}
