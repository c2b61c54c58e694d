/**
 * How the SIP edge container is configured: its ports, the environment variables edge/main.ts reads
 * and the private name the functions reach its control API by. Shared by the CDK construct
 * (lib/sip-edge-service.ts) and the container's entry point (edge/main.ts); plain constants, no CDK
 * imports (the edge bundle imports this module).
 */

/** SIP over UDP and TCP (RFC 3261 §19.1.2). */
export const SIP_PORT = 5060;
/** SIP over TLS, when a certificate is configured (TLS ends at the load balancer). */
export const SIP_TLS_PORT = 5061;
/**
 * The Node.js flags of the edge's process: on its command line in the container (the Dockerfile's CMD
 * and the task's command, lib/sip-edge-service.ts) and in the benchmark's systems processes, which run
 * it. Never in NODE_OPTIONS: Node.js refuses to start when it holds a V8 flag off its short list.
 *
 * - `--enable-source-maps`: stack traces of the bundle point at the TypeScript sources.
 * - `--max-semi-space-size=32`: a 32 MB young generation (V8 sizes it up to 16 MB by default). The edge
 *   allocates a few short-lived objects per SIP message; with the larger young generation fewer of them
 *   survive two scavenges and move to the old generation, where only a full GC frees them. In two
 *   otherwise identical 5-minute runs at N = 100 and 5 calls/s (decision 0017) the systems used
 *   0.176 CPU-s a call instead of 0.197, with setup p95 189 ms instead of 256, for about 60 MiB more RSS.
 * - `--heap-growing-percent=10`: after each full GC, V8 lets the old generation grow 10 % over what
 *   survived before the next one (by default it picks a factor of up to 4 from its GC and mutator
 *   speeds). The edge's live heap is flat (every transaction ends when its timers run out, §17), so this
 *   keeps its RSS flat too: after a 2-minute warm-up at N = 100 and 5 calls/s, 5-minute runs grew 0.1,
 *   0.8 and 1.4 MiB/min with it (0.6 over 10 minutes), 5.5 without it and 4.6 with 25 %. It costs CPU:
 *   0.180–0.193 CPU-s a call instead of 0.159, setup p95 184–197 ms instead of 148 (decision 0017,
 *   second and third addenda).
 */
export const EDGE_NODE_FLAGS: readonly string[] = [
  '--enable-source-maps',
  '--max-semi-space-size=32',
  '--heap-growing-percent=10',
];

/** The edge control API (edge/control-api.ts). */
export const CONTROL_PORT = 8061;
/** The edge's health endpoint (edge/main.ts), for the load balancer and the container health check. */
export const HEALTH_PORT = 8062;
/** The CloudWatch agent's EMF listener in the task (the edge sends its metrics there). */
export const EMF_AGENT_ENDPOINT = 'udp://127.0.0.1:25888';
/** The private DNS namespace of a system's VPC (Cloud Map). */
export const SERVICE_NAMESPACE = 'mcptt.internal';
/** The Cloud Map service of the edge tasks (one A record per task). */
export const EDGE_CONTROL_SERVICE = 'edge-control';
/** The name the functions resolve to reach an edge task. */
export const EDGE_CONTROL_HOST = `${EDGE_CONTROL_SERVICE}.${SERVICE_NAMESPACE}`;
/** `EDGE_CONTROL_URL` of the functions that call the edge. */
export const EDGE_CONTROL_URL = `http://${EDGE_CONTROL_HOST}:${CONTROL_PORT}`;

/** Environment variables of the edge container (edge/main.ts). */
export const EDGE_ENV = {
  /** The MCPTT system's domain. */
  systemDomain: 'SYSTEM_DOMAIN',
  /** Bind address of every listener (SIP, control API, health). Default 0.0.0.0. */
  host: 'HOST',
  sipPort: 'SIP_PORT',
  controlPort: 'CONTROL_PORT',
  healthPort: 'HEALTH_PORT',
  /** Base URL of the system's HTTP API (its `edge` routes). */
  apiUrl: 'API_URL',
  /** `iam`: SigV4-sign calls to the `edge` routes with the task role; `bearer` (default): the edge token. */
  apiAuth: 'API_AUTH',
  /** The edge control token itself (local runs) … */
  controlToken: 'EDGE_CONTROL_TOKEN',
  /** … or the Secrets Manager secret holding it (AWS). */
  controlTokenArn: 'EDGE_CONTROL_TOKEN_ARN',
  /**
   * The name members reach the edge by (the load balancer's DNS name, or the system's SIP name in
   * DNS), put in the edge's Via sent-by and Contact instead of its bind address.
   */
  advertisedHost: 'SIP_ADVERTISED_HOST',
  /** `udp://host:port` of the CloudWatch agent's EMF listener; unset: no metrics. */
  metricsEndpoint: 'EDGE_METRICS_ENDPOINT',
  /** The log group the agent writes the edge's EMF lines to (`_aws.LogGroupName`). */
  metricsLogGroup: 'EDGE_METRICS_LOG_GROUP',
  /**
   * The task metadata endpoint (v4), set by ECS itself: the edge reads its task's private address there
   * and names `http://<address>:<control port>` as its control URL with every call it routes.
   */
  ecsMetadataUri: 'ECS_CONTAINER_METADATA_URI_V4',
  /**
   * The control URL the edge names when the task metadata cannot be read (outside ECS); optional:
   * without it the edge names none and the functions use their own `EDGE_CONTROL_URL`.
   */
  controlUrl: 'EDGE_CONTROL_URL',
} as const;
