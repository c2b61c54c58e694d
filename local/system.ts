/**
 * One local MCPTT system: dynalite (on disk or in memory), its table, the configured data, and a
 * local HTTP API serving lib/routes.ts with the very handler modules the stack deploys.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createEdgeControlClient } from '#adapters/edge-control-client.ts';
import { type AppDeps, depsFromEnv } from '#functions/shared/deps.ts';
import { type ControlApi, startControlApi } from '../edge/control-api.ts';
import { createFunctionsClient } from '../edge/functions-client.ts';
import { type SipEdge, startSipEdge } from '../edge/sip-edge.ts';
import { API_FUNCTIONS, ENV, ROUTES } from '../lib/routes.ts';
import { startCallSetupWorkflow } from './call-setup-workflow.ts';
import type { ResolvedSystemConfig } from './config.ts';
import { ensureTable, startDynalite } from './dynalite.ts';
import { createDynamoClients } from './dynamo-clients.ts';
import { FUNCTION_BUILDERS } from './function-registry.ts';
import { startLocalHttpApi } from './http-api.ts';
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
}

/** The environment a deployed function of this system would see (lib/routes.ts ENV). */
export const localEnv = (cfg: ResolvedSystemConfig, dynamodbEndpoint: string): Record<string, string> => ({
  [ENV.systemDomain]: cfg.domain,
  [ENV.tableName]: LOCAL_TABLE_NAME,
  [ENV.tokenSecret]: cfg.tokenSecret,
  [ENV.dynamodbEndpoint]: dynamodbEndpoint,
  [ENV.partnerTimeoutMs]: String(cfg.partnerTimeoutMs),
});

export const startSystem = async (
  cfg: ResolvedSystemConfig,
  opts: StartSystemOptions = {},
): Promise<LocalSystem> => {
  const dataPath = opts.dataDir ? join(opts.dataDir, cfg.domain) : undefined;
  if (dataPath && opts.reset) rmSync(dataPath, { recursive: true, force: true });
  if (dataPath) mkdirSync(dataPath, { recursive: true });
  const db = await startDynalite(dataPath ? { path: dataPath } : {});
  try {
    const { client } = createDynamoClients(db.endpoint);
    await ensureTable(client, LOCAL_TABLE_NAME);
    client.destroy();
    const deps = await depsFromEnv(localEnv(cfg, db.endpoint));
    await seedSystem(cfg, deps.store);
    const handlers = new Map(API_FUNCTIONS.map((f) => [f.name, FUNCTION_BUILDERS[f.name](async () => deps)]));
    const api = await startLocalHttpApi({
      port: cfg.http.port,
      routes: ROUTES,
      edgeToken: cfg.edgeToken,
      apiId: cfg.domain,
      handlerFor: (fn) => {
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
    // The functions reach the edge through its control API, as they do in AWS.
    deps.edge = createEdgeControlClient({ url: control.url, token: cfg.edgeToken });
    let workflow: WorkflowRuntime;
    try {
      workflow = await startCallSetupWorkflow(
        cfg,
        deps,
        { apiUrl: api.url },
        { duplicateSqsDeliveries: opts.duplicateSqsDeliveries },
      );
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
      async stop() {
        await workflow.stop();
        await control.close();
        await edge.stop();
        await api.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
};
