/**
 * The HTTP API of one MCPTT system: which routes exist, which function serves each, and how
 * each route is authenticated. The CDK stack (lib/mcptt-system-stack.ts) and the local runtime
 * (local/http-api.ts) are both built from this one table, so local and AWS expose the same API.
 *
 * Plain data: no CDK imports, so the local runtime can load it without aws-cdk-lib.
 */

/** A Lambda function of the system. `entry` is relative to the repository root. */
export interface FunctionSpec {
  /** Short kebab-case name, also the folder under functions/. */
  name: FunctionName;
  entry: string;
  description: string;
  /**
   * Data-plane access the function needs on the table (least privilege in the stack); `none`: no access,
   * and no `TABLE_NAME` in its environment.
   */
  table: 'read' | 'read-write' | 'none';
  /** Whether the function calls partner systems' APIs over HTTPS. */
  callsPartners: boolean;
  /**
   * What invokes it: `api` the HTTP API (ROUTES), `workflow` the call setup state machine, `queue`
   * the partner interrogation queue (event source mapping with partial batch failures), `invoke` another
   * function of the system, asynchronously (`InvocationType: 'Event'`; lib/function-access.ts says which).
   */
  trigger: 'api' | 'workflow' | 'queue' | 'invoke';
}

/** The functions behind the HTTP API. */
export type ApiFunctionName =
  | 'health'
  | 'auth'
  | 'users'
  | 'groups'
  | 'agreements'
  | 'regroups'
  | 'partner-api'
  | 'registration'
  | 'affiliation'
  | 'call-routing'
  | 'member-response';

export type FunctionName = ApiFunctionName | 'call-setup-tasks' | 'partner-interrogator' | 'message-relay';

/**
 * How a route is authenticated.
 * - `none`: public (health, log-in).
 * - `token`: bearer JWT issued by POST /auth/token, checked in the function (role checks in the core).
 * - `edge`: only the system's own SIP edge: IAM auth (SigV4) in AWS, edge bearer token locally.
 * - `partner`: requests signed with the per-partner agreement key, checked in the function.
 */
export type RouteAuth = 'none' | 'token' | 'edge' | 'partner';

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway v2 path with `{param}` segments. */
  path: string;
  fn: ApiFunctionName;
  auth: RouteAuth;
}

const fn = (
  name: FunctionName,
  description: string,
  table: FunctionSpec['table'],
  callsPartners = false,
  trigger: FunctionSpec['trigger'] = 'api',
): FunctionSpec => ({
  name,
  entry: `functions/${name}/handler.ts`,
  description,
  table,
  callsPartners,
  trigger,
});

export const FUNCTIONS: readonly FunctionSpec[] = [
  fn('health', 'Health check: table reachable', 'read'),
  fn('auth', 'Log-in: issues admin/dispatcher bearer tokens', 'read'),
  fn('users', 'Group management: users and their credentials (hashes only)', 'read-write'),
  fn('groups', 'Group management: groups, call policies, memberships', 'read-write'),
  fn('agreements', 'Partner agreements', 'read-write'),
  fn('regroups', 'Group regroup: temporary groups across systems', 'read-write', true),
  fn(
    'partner-api',
    'Partner API: regroup accept/confirm/release, interrogation; signed per partner',
    'read-write',
  ),
  fn('registration', 'SIP registrations and digest credentials for the edge', 'read-write'),
  fn('affiliation', 'Affiliation from PIDF (TS 24.379) for the edge', 'read-write'),
  fn(
    'call-routing',
    'Where an INVITE arriving at the edge goes: a registered user, a redirection, or a refusal',
    // Writes too: it claims the SIP Call-ID, creates the call, records partner nonces, cancels calls.
    'read-write',
  ),
  fn(
    'member-response',
    'Call setup: records the final answers of invited members (leg reports of the edge) and completes the wait',
    'read-write',
  ),
  fn(
    'call-setup-tasks',
    'Call setup workflow tasks: resolve the temporary group, apply the commencement policy, invite members, complete',
    'read-write',
    false,
    'workflow',
  ),
  fn(
    'partner-interrogator',
    'Call setup: interrogates one partner system per queued message and completes its workflow task',
    'read',
    true,
    'queue',
  ),
  fn(
    'message-relay',
    'Relays SIP MESSAGE batches (regroup notices) from functions outside the VPC to the SIP edge control API',
    'none',
    false,
    'invoke',
  ),
];

/** The functions behind the HTTP API, in FUNCTIONS order. */
export const API_FUNCTIONS: readonly (FunctionSpec & { name: ApiFunctionName })[] = FUNCTIONS.filter(
  (f): f is FunctionSpec & { name: ApiFunctionName } => f.trigger === 'api',
);

export const ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/health', fn: 'health', auth: 'none' },
  { method: 'POST', path: '/auth/token', fn: 'auth', auth: 'none' },

  { method: 'GET', path: '/users', fn: 'users', auth: 'token' },
  { method: 'POST', path: '/users', fn: 'users', auth: 'token' },
  { method: 'GET', path: '/users/{mcpttId}', fn: 'users', auth: 'token' },
  { method: 'PUT', path: '/users/{mcpttId}', fn: 'users', auth: 'token' },
  { method: 'DELETE', path: '/users/{mcpttId}', fn: 'users', auth: 'token' },

  { method: 'GET', path: '/groups', fn: 'groups', auth: 'token' },
  { method: 'POST', path: '/groups', fn: 'groups', auth: 'token' },
  { method: 'GET', path: '/groups/{groupId}', fn: 'groups', auth: 'token' },
  { method: 'PUT', path: '/groups/{groupId}', fn: 'groups', auth: 'token' },
  { method: 'DELETE', path: '/groups/{groupId}', fn: 'groups', auth: 'token' },
  { method: 'GET', path: '/groups/{groupId}/members', fn: 'groups', auth: 'token' },
  { method: 'PUT', path: '/groups/{groupId}/members/{mcpttId}', fn: 'groups', auth: 'token' },
  { method: 'DELETE', path: '/groups/{groupId}/members/{mcpttId}', fn: 'groups', auth: 'token' },

  { method: 'GET', path: '/agreements', fn: 'agreements', auth: 'token' },
  { method: 'POST', path: '/agreements', fn: 'agreements', auth: 'token' },
  { method: 'GET', path: '/agreements/{partner}', fn: 'agreements', auth: 'token' },
  { method: 'PUT', path: '/agreements/{partner}', fn: 'agreements', auth: 'token' },
  { method: 'DELETE', path: '/agreements/{partner}', fn: 'agreements', auth: 'token' },

  { method: 'GET', path: '/regroups', fn: 'regroups', auth: 'token' },
  { method: 'POST', path: '/regroups', fn: 'regroups', auth: 'token' },
  { method: 'GET', path: '/regroups/{tgi}', fn: 'regroups', auth: 'token' },
  { method: 'DELETE', path: '/regroups/{tgi}', fn: 'regroups', auth: 'token' },

  { method: 'POST', path: '/partner/v1/regroups', fn: 'partner-api', auth: 'partner' },
  { method: 'POST', path: '/partner/v1/regroups/{tgi}/confirm', fn: 'partner-api', auth: 'partner' },
  { method: 'DELETE', path: '/partner/v1/regroups/{tgi}', fn: 'partner-api', auth: 'partner' },
  { method: 'POST', path: '/partner/v1/interrogations', fn: 'partner-api', auth: 'partner' },

  { method: 'POST', path: '/edge/registrations', fn: 'registration', auth: 'edge' },
  { method: 'GET', path: '/edge/registrations/{mcpttId}', fn: 'registration', auth: 'edge' },
  { method: 'GET', path: '/edge/credentials/{mcpttId}', fn: 'registration', auth: 'edge' },
  { method: 'POST', path: '/edge/affiliations', fn: 'affiliation', auth: 'edge' },
  { method: 'GET', path: '/edge/affiliations/{mcpttId}', fn: 'affiliation', auth: 'edge' },
  { method: 'POST', path: '/edge/calls', fn: 'call-routing', auth: 'edge' },
  { method: 'POST', path: '/edge/calls/cancel', fn: 'call-routing', auth: 'edge' },
  { method: 'POST', path: '/edge/calls/release', fn: 'call-routing', auth: 'edge' },
  { method: 'POST', path: '/edge/leg-results', fn: 'member-response', auth: 'edge' },
];

/** API Gateway v2 route key, e.g. `POST /regroups`. */
export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** Environment variables every function receives (names shared by CDK and the local runtime). */
export const ENV = {
  tableName: 'TABLE_NAME',
  systemDomain: 'SYSTEM_DOMAIN',
  /** Token signing key itself (local) … */
  tokenSecret: 'TOKEN_SECRET',
  /** … or the Secrets Manager ARN holding it (AWS). */
  tokenSecretArn: 'TOKEN_SECRET_ARN',
  /** Local only: DynamoDB endpoint (dynalite). */
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  /** Base URL of the system's SIP edge control API and its bearer token. */
  edgeControlUrl: 'EDGE_CONTROL_URL',
  edgeControlToken: 'EDGE_CONTROL_TOKEN',
  /** Timeout of one partner API call, milliseconds. */
  partnerTimeoutMs: 'PARTNER_TIMEOUT_MS',
  /** … or, in AWS, the Secrets Manager ARN holding that token. */
  edgeControlTokenArn: 'EDGE_CONTROL_TOKEN_ARN',
  /**
   * AWS only: name of the message-relay function, for the functions outside the VPC that send SIP MESSAGEs
   * (regroups): they invoke it asynchronously instead of calling the edge control API, which only the VPC
   * reaches (decision 0011).
   */
  messageRelayFunction: 'MESSAGE_RELAY_FUNCTION',
  /** Local only: Step Functions endpoint (the local workflow runtime) for task token callbacks. */
  sfnEndpoint: 'SFN_ENDPOINT',
  /** The call setup state machine (call-routing starts and stops its executions). */
  stateMachineArn: 'CALL_SETUP_STATE_MACHINE_ARN',
  /** How long the edge holds a group call INVITE for the workflow's final response, milliseconds. */
  holdTimeoutMs: 'CALL_SETUP_HOLD_TIMEOUT_MS',
  /** Base URL of the system's own HTTP API (call-setup-tasks: where the edge reports leg results). */
  apiUrl: 'API_URL',
  /**
   * Powertools' switch (`true` turns the functions' EMF metrics off; adapters/metrics.ts). Unset in AWS;
   * the local runtime sets it unless metrics are asked for, so local runs print no EMF lines.
   */
  metricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
} as const;
