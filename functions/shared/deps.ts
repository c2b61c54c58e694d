/**
 * What every function of one MCPTT system needs, built once per container from the
 * environment (lib/routes.ts ENV names). The local runtime builds the same thing from a
 * system's local environment, so local and AWS share one code path.
 */
import { CallStore } from '#adapters/dynamo/call-store.ts';
import { createDocumentClient } from '#adapters/dynamo/clients.ts';
import { Store } from '#adapters/dynamo/store.ts';
import { createEdgeControlClients, type EdgeControl } from '#adapters/edge-control-client.ts';
import { createMessageRelayClient } from '#adapters/message-relay-client.ts';
import { type MetricsSink, metricsFromEnv } from '#adapters/metrics.ts';
import { createHttpPartnerClient, type PartnerClient } from '#adapters/partner-client.ts';
import { readSecret } from '#adapters/secrets.ts';
import { createWorkflowClient, type WorkflowClient } from '#adapters/workflow-client.ts';
import { normalizeDomain } from '#core/ids.ts';
import type { EpochMs, SystemDomain } from '#core/model.ts';
import { ENV } from '../../lib/routes.ts';
import { createTokenService, type TokenService } from './tokens.ts';

export interface AppDeps {
  system: SystemDomain;
  store: Store;
  tokens: TokenService;
  partners: PartnerClient;
  now: () => EpochMs;
  /** CloudWatch metrics (EMF on stdout; dropped when POWERTOOLS_METRICS_DISABLED is set). */
  metrics: MetricsSink;
  /** The system's SIP edge (control API), when one is configured: any edge task (`EDGE_CONTROL_URL`). */
  edge?: EdgeControl;
  /**
   * The edge task at `url` (a call's `edgeUrl`: the task holding its INVITE and legs), with the same
   * token; {@link AppDeps.edge} when `url` is undefined. Set whenever `edge` is.
   */
  edgeFor?: (url?: string) => EdgeControl;
  /**
   * Where SIP MESSAGEs (regroup notices) go instead of {@link AppDeps.edge}: the message-relay function,
   * for a function outside the VPC, which cannot reach the edge (`MESSAGE_RELAY_FUNCTION`: regroups in
   * AWS). Unset locally and in the functions in the VPC, which use `edge`.
   */
  messages?: Pick<EdgeControl, 'sendMessages'>;
  /** Calls and call legs of the call setup workflow (same table). */
  calls?: CallStore;
  /** Task token callbacks to the call setup workflow. */
  workflow?: WorkflowClient;
  /** The call setup workflow: its state machine and how long the edge holds an INVITE for it. */
  callSetup?: { stateMachineArn: string; holdTimeoutMs: number };
}

/**
 * How long the edge holds a group call INVITE for the workflow's final response, by default: longer
 * than the longest acknowledgement timer plus the partner interrogation, shorter than the caller's
 * Timer B/C would allow.
 */
export const DEFAULT_HOLD_TIMEOUT_MS = 30_000;

export type Env = Record<string, string | undefined>;

const required = (env: Env, name: string): string => {
  const v = env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
};

export const depsFromEnv = async (env: Env = process.env): Promise<AppDeps> => {
  const system = normalizeDomain(required(env, ENV.systemDomain));
  const tableName = required(env, ENV.tableName);
  // Read on first use only: functions that never sign nor verify tokens neither read nor may read it.
  const localSecret = env[ENV.tokenSecret];
  const secretArn = env[ENV.tokenSecretArn];
  const secret =
    localSecret ??
    (async () => {
      if (!secretArn)
        throw new Error(`missing environment variable ${ENV.tokenSecret} or ${ENV.tokenSecretArn}`);
      return readSecret(secretArn);
    });
  const timeoutMs = Number(env[ENV.partnerTimeoutMs] ?? 3000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error(`${ENV.partnerTimeoutMs} must be a positive number`);
  const now = Date.now;
  const edgeUrl = env[ENV.edgeControlUrl];
  const edgeTokenArn = env[ENV.edgeControlTokenArn];
  const edgeToken =
    env[ENV.edgeControlToken] ?? (edgeUrl && edgeTokenArn ? await readSecret(edgeTokenArn) : undefined);
  const messageRelay = env[ENV.messageRelayFunction];
  const stateMachineArn = env[ENV.stateMachineArn];
  const holdTimeoutMs = Number(env[ENV.holdTimeoutMs] ?? DEFAULT_HOLD_TIMEOUT_MS);
  if (!Number.isInteger(holdTimeoutMs) || holdTimeoutMs <= 0)
    throw new Error(`${ENV.holdTimeoutMs} must be a positive integer`);
  const doc = createDocumentClient(env[ENV.dynamodbEndpoint]);
  const sfnEndpoint = env[ENV.sfnEndpoint];
  return {
    ...(edgeUrl && edgeToken ? createEdgeControlClients({ url: edgeUrl, token: edgeToken }) : {}),
    ...(messageRelay ? { messages: createMessageRelayClient({ functionName: messageRelay }) } : {}),
    ...(stateMachineArn ? { callSetup: { stateMachineArn, holdTimeoutMs } } : {}),
    system,
    store: new Store(doc, tableName),
    calls: new CallStore(doc, tableName),
    workflow: createWorkflowClient(sfnEndpoint ? { endpoint: sfnEndpoint } : {}),
    tokens: createTokenService({ system, secret, now }),
    partners: createHttpPartnerClient({ system, timeoutMs, now }),
    metrics: metricsFromEnv(env, system),
    now,
  };
};
