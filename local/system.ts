/**
 * One local MCPTT system: dynalite (on disk or in memory), its table, the configured data, and a
 * local HTTP API serving lib/routes.ts with the very handler modules the stack deploys.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createEdgeControlClients } from '#adapters/edge-control-client.ts';
import { type AppDeps, depsFromEnv } from '#functions/shared/deps.ts';
import { type ControlApi, startControlApi } from '../edge/control-api.ts';
import { createFunctionsClient } from '../edge/functions-client.ts';
import { type SipEdge, startSipEdge } from '../edge/sip-edge.ts';
import { API_FUNCTIONS, ENV, ROUTES } from '../lib/routes.ts';
import { type BundleRuntime, type FunctionOutput, startBundleRuntime } from './bundles.ts';
import { startCallSetupWorkflow } from './call-setup-workflow.ts';
import type { ResolvedSystemConfig } from './config.ts';
import { ensureTable, startDynalite } from './dynalite.ts';
import { createDynamoClients } from './dynamo-clients.ts';
import { FUNCTION_BUILDERS } from './function-registry.ts';
import { type ApiHandler as LocalApiHandler, startLocalHttpApi } from './http-api.ts';
import { seedSystem } from './seed.ts';
import type { WorkflowRuntime } from './workflow-runtime.ts';

export const LOCAL_TABLE_NAME = 'mcptt';

export interface LocalSystem {
  domain: string;
  url: string;
  httpPort: number;
  sipPort: number;
  /** The system's SIP edge (UDP and TCP on sipPort). */
  edge: SipEdge;
  /** The edge control API (bearer: the system's edge token). */
  control: ControlApi;
  dataPath: string | undefined;
  deps: AppDeps;
  /** The deployed bundles the functions run from (option `bundles`); undefined: the source modules. */
  bundles: BundleRuntime | undefined;
  stop(): Promise<void>;
}

export interface StartSystemOptions {
  /** Folder for this system's data (a subfolder per system is made); omitted = in memory. */
  dataDir?: string;
  /** Wipe the data folder first. */
  reset?: boolean;
  /** SIP edge diagnostics. */
  sipLog?: (line: string) => void;
  onRequest?: (log: { system: string; method: string; path: string; status: number; ms: number }) => void;
  /** TEST hook: the partner interrogation queue delivers every message twice (SQS is at-least-once). */
  duplicateSqsDeliveries?: boolean;
  /**
   * A DynamoDB endpoint already running elsewhere (e.g. dynalite's CLI in its own process, as the table
   * is a service outside the functions in AWS) instead of a dynalite started here; `dataDir` then
   * does not apply to the table.
   */
  dynamodbEndpoint?: string;
  /**
   * Run the functions from the bundles `cdk synth` wrote to this cdk.out directory (local/bundles.ts),
   * each in a worker thread with the environment the stack gives it, instead of the source modules.
   */
  bundles?: string;
  /** The functions' EMF metrics (Powertools) on their stdout; default off, so local runs print none. */
  metrics?: boolean;
  /** Every line a bundled function writes; default: this process's stdout/stderr. */
  onFunctionOutput?: (out: FunctionOutput) => void;
  /**
   * TEST hook: the functions' default edge control URL (`EDGE_CONTROL_URL`, what they use for a call
   * that names no edge, and for regroup notices) instead of this system's control API. The edge still
   * names its own control API with each call, so group calls must not depend on this URL.
   */
  defaultEdgeControlUrl?: string;
}

/** The environment a deployed function of this system would see (lib/routes.ts ENV). */
export const localEnv = (
  cfg: ResolvedSystemConfig,
  dynamodbEndpoint: string,
  opts: { metrics?: boolean } = {},
): Record<string, string> => ({
  [ENV.systemDomain]: cfg.domain,
  [ENV.tableName]: LOCAL_TABLE_NAME,
  [ENV.tokenSecret]: cfg.tokenSecret,
  [ENV.dynamodbEndpoint]: dynamodbEndpoint,
  [ENV.partnerTimeoutMs]: String(cfg.partnerTimeoutMs),
  [ENV.metricsDisabled]: opts.metrics ? 'false' : 'true',
});

export const startSystem = async (
  cfg: ResolvedSystemConfig,
  opts: StartSystemOptions = {},
): Promise<LocalSystem> => {
  const dataPath = opts.dataDir ? join(opts.dataDir, cfg.domain) : undefined;
  if (dataPath && opts.reset) rmSync(dataPath, { recursive: true, force: true });
  if (dataPath) mkdirSync(dataPath, { recursive: true });
  // In a worker thread: the system's DynamoDB work runs beside its event loop, on another core.
  const db = opts.dynamodbEndpoint
    ? { endpoint: opts.dynamodbEndpoint, close: async () => undefined }
    : await startDynalite({ ...(dataPath ? { path: dataPath } : {}), thread: true });
  let bundles: BundleRuntime | undefined;
  try {
    const { client } = createDynamoClients(db.endpoint);
    await ensureTable(client, LOCAL_TABLE_NAME);
    client.destroy();
    const env = localEnv(cfg, db.endpoint, opts);
    const deps = await depsFromEnv(env);
    await seedSystem(cfg, deps.store);
    const handlers = new Map(API_FUNCTIONS.map((f) => [f.name, FUNCTION_BUILDERS[f.name](async () => deps)]));
    // The bundles' environment: filled in below as the API, the edge and the workflow start; read when
    // a function's worker starts (its first invocation, once the system runs).
    const bundleValues: Record<string, string> = { ...env, [ENV.edgeControlToken]: cfg.edgeToken };
    bundles = opts.bundles
      ? startBundleRuntime({
          system: cfg.domain,
          bundles: opts.bundles,
          env: () => bundleValues,
          extraEnv: {
            [ENV.metricsDisabled]: env[ENV.metricsDisabled],
            LOG_LEVEL: process.env.LOG_LEVEL,
            AWS_REGION: process.env.AWS_REGION ?? 'local',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          ...(opts.onFunctionOutput ? { onOutput: opts.onFunctionOutput } : {}),
        })
      : undefined;
    const runtime = bundles;
    const api = await startLocalHttpApi({
      port: cfg.http.port,
      routes: ROUTES,
      edgeToken: cfg.edgeToken,
      apiId: cfg.domain,
      handlerFor: (fn) => {
        // A bundle answers what its handler returned, through JSON (an API Gateway result).
        if (runtime) return runtime.handler(fn) as LocalApiHandler;
        const h = handlers.get(fn);
        if (!h) throw new Error(`no handler for function ${fn}`);
        return h;
      },
      ...(opts.onRequest ? { onRequest: (log) => opts.onRequest?.({ system: cfg.domain, ...log }) } : {}),
    });
    let edge: SipEdge;
    try {
      edge = await startSipEdge({
        domain: cfg.domain,
        port: cfg.sip.port,
        functions: createFunctionsClient({ baseUrl: api.url, edgeToken: cfg.edgeToken }),
        authSecret: Buffer.from(`digest-nonce:${cfg.edgeToken}`),
        digestAlgorithms: cfg.sip.digestAlgorithms,
        ...(opts.sipLog ? { log: (line: string) => opts.sipLog?.(`[${cfg.domain}] ${line}`) } : {}),
      });
    } catch (e) {
      await api.close();
      throw e;
    }
    let control: ControlApi;
    try {
      control = await startControlApi({
        edge,
        port: cfg.sip.controlPort ?? (cfg.http.port === 0 ? 0 : cfg.http.port + 1),
        token: cfg.edgeToken,
        reportToken: cfg.edgeToken,
        ...(opts.sipLog ? { log: (line: string) => opts.sipLog?.(`[${cfg.domain}] ${line}`) } : {}),
      });
    } catch (e) {
      await edge.stop();
      await api.close();
      throw e;
    }
    // The edge names its control API with every call (in AWS: the task's own address), and the
    // functions act on each call there; their default edge serves calls that name none.
    edge.controlUrl = control.url;
    const defaultEdgeUrl = opts.defaultEdgeControlUrl ?? control.url;
    Object.assign(deps, createEdgeControlClients({ url: defaultEdgeUrl, token: cfg.edgeToken }));
    bundleValues[ENV.edgeControlUrl] = defaultEdgeUrl;
    bundleValues[ENV.apiUrl] = api.url;
    let workflow: WorkflowRuntime;
    try {
      workflow = await startCallSetupWorkflow(
        cfg,
        deps,
        { apiUrl: api.url },
        { duplicateSqsDeliveries: opts.duplicateSqsDeliveries },
        runtime
          ? {
              tasks: runtime.handler('call-setup-tasks'),
              interrogator: runtime.handler('partner-interrogator'),
            }
          : undefined,
      );
      bundleValues[ENV.sfnEndpoint] = workflow.sfnEndpoint;
      bundleValues[ENV.stateMachineArn] = workflow.stateMachineArn;
    } catch (e) {
      await control.close();
      await edge.stop();
      await api.close();
      throw e;
    }
    return {
      domain: cfg.domain,
      url: api.url,
      httpPort: api.port,
      sipPort: edge.udp.port,
      edge,
      control,
      dataPath,
      deps,
      bundles,
      async stop() {
        await workflow.stop();
        await control.close();
        await edge.stop();
        await api.close();
        await runtime?.stop();
        await db.close();
      },
    };
  } catch (e) {
    await bundles?.stop();
    await db.close();
    throw e;
  }
};
