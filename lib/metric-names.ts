/**
 * The custom CloudWatch metrics of an MCPTT system: one namespace, the metric names, their units and
 * their dimensions. The functions and the SIP edge emit them as EMF (Embedded Metric Format) log lines;
 * the alarms and the dashboard of lib/monitoring.ts read them. Both sides import these constants, so a
 * name can only change in one place.
 *
 * Plain constants, no CDK imports: the functions' and the edge's bundles import this module.
 *
 * Dimensions are kept minimal (every combination of dimension values is a metric of its own, billed
 * and alarmed separately): every metric has exactly the dimension `System` (the MCPTT system's domain,
 * e.g. `primary.example`); two metrics add one more dimension, from a small fixed set of values:
 *
 * | metric | unit | dimensions | emitted by | meaning |
 * |---|---|---|---|---|
 * | `CallsStarted` | Count | System | call-routing | a group call setup started (the call setup workflow execution was started for an INVITE to a group or temporary group) |
 * | `CallsSucceeded` | Count | System | call-setup-tasks (CompleteCallSetup) | the initiator got `200 OK` (call setup complete, commencement policy met) |
 * | `CallsFailed` | Count | System, Reason | call-setup-tasks, call-routing | the initiator got a final response other than 200, or none; `Reason` ∈ {@link CALL_FAILURE_REASONS} |
 * | `CallSetupLatency` | Milliseconds | System | call-setup-tasks (CompleteCallSetup) | from the INVITE reaching call-routing (call record created) to the final response handed to the edge, every outcome; the 3GPP access time budget is {@link ACCESS_TIME_BUDGET_MS} |
 * | `PartnerInterrogationLatency` | Milliseconds | System | partner-interrogator | one interrogation of one partner system (the signed HTTPS round trip), answered or not |
 * | `PartnerInterrogationFailures` | Count | System | partner-interrogator | an interrogation that ended without an answer (timeout, network error, 5xx, no agreement) |
 * | `MemberResponses` | Count | System, Class | member-response, call-setup-tasks | one final outcome of one invited member's leg; `Class` ∈ {@link MEMBER_RESPONSE_CLASSES} |
 * | `SipTransactions` | Count | System | SIP edge | SIP transactions created by the edge (server and client, every method) |
 * | `SipRetransmissions` | Count | System | SIP edge | requests and responses the edge retransmitted (RFC 3261 timers A, E, G and 2xx retransmission) |
 * | `EdgeActiveTransactions` | Count | System | SIP edge | live SIP transactions in one edge task, sampled periodically (a gauge; the service scales on its average across tasks) |
 *
 * Counts are emitted with value 1 per event (or the number of events of one invocation); latencies one
 * value per measured event, so that CloudWatch percentiles (p50, p95, p99) apply.
 */

/** The CloudWatch namespace of every custom metric. */
export const METRIC_NAMESPACE = 'MCPTT';

/** Dimension names. */
export const METRIC_DIMENSIONS = {
  /** The MCPTT system's domain (every metric). */
  system: 'System',
  /** Why a call failed (`CallsFailed` only), one of {@link CALL_FAILURE_REASONS}. */
  reason: 'Reason',
  /** The class of a member's final outcome (`MemberResponses` only), one of {@link MEMBER_RESPONSE_CLASSES}. */
  class: 'Class',
} as const;

/** Metric names (see the module table for unit, dimensions and meaning). */
export const METRIC_NAMES = {
  callsStarted: 'CallsStarted',
  callsSucceeded: 'CallsSucceeded',
  callsFailed: 'CallsFailed',
  callSetupLatency: 'CallSetupLatency',
  partnerInterrogationLatency: 'PartnerInterrogationLatency',
  partnerInterrogationFailures: 'PartnerInterrogationFailures',
  memberResponses: 'MemberResponses',
  sipTransactions: 'SipTransactions',
  sipRetransmissions: 'SipRetransmissions',
  edgeActiveTransactions: 'EdgeActiveTransactions',
} as const;

export type MetricKey = keyof typeof METRIC_NAMES;
export type MetricName = (typeof METRIC_NAMES)[MetricKey];

/**
 * Values of the `Reason` dimension of `CallsFailed`:
 * - `abandoned` — the commencement policy abandoned the call (480, Warning 112 where it applies);
 * - `refused` — the initiator may not call that group (403 or 404, TS 24.379 Warning);
 * - `cancelled` — the initiator cancelled before the final response (487 from the edge);
 * - `error` — the workflow failed or timed out, or the final response could not be delivered (503).
 */
export const CALL_FAILURE_REASONS = ['abandoned', 'refused', 'cancelled', 'error'] as const;
export type CallFailureReason = (typeof CALL_FAILURE_REASONS)[number];

/**
 * Values of the `Class` dimension of `MemberResponses`: the final SIP status class of a member's leg,
 * or `timeout` when the member never answered (Timer B/C, or the acknowledgement timer expired first).
 */
export const MEMBER_RESPONSE_CLASSES = ['2xx', '3xx', '4xx', '5xx', '6xx', 'timeout'] as const;
export type MemberResponseClass = (typeof MEMBER_RESPONSE_CLASSES)[number];

/** The class of a final SIP status (200–699), as the `Class` dimension of `MemberResponses`. */
export const memberResponseClass = (status: number): Exclude<MemberResponseClass, 'timeout'> => {
  if (!Number.isInteger(status) || status < 200 || status > 699) {
    throw new RangeError(`not a final SIP status: ${status}`);
  }
  return `${Math.floor(status / 100)}xx` as Exclude<MemberResponseClass, 'timeout'>;
};

/** CloudWatch units used by these metrics (the EMF `Unit` strings). */
export type MetricUnitName = 'Count' | 'Milliseconds';

/** Unit and extra dimension (beyond `System`) of each metric. */
export const METRIC_DEFINITIONS: Readonly<
  Record<MetricName, { readonly unit: MetricUnitName; readonly extraDimension?: 'Reason' | 'Class' }>
> = {
  CallsStarted: { unit: 'Count' },
  CallsSucceeded: { unit: 'Count' },
  CallsFailed: { unit: 'Count', extraDimension: METRIC_DIMENSIONS.reason },
  CallSetupLatency: { unit: 'Milliseconds' },
  PartnerInterrogationLatency: { unit: 'Milliseconds' },
  PartnerInterrogationFailures: { unit: 'Count' },
  MemberResponses: { unit: 'Count', extraDimension: METRIC_DIMENSIONS.class },
  SipTransactions: { unit: 'Count' },
  SipRetransmissions: { unit: 'Count' },
  EdgeActiveTransactions: { unit: 'Count' },
};

/**
 * The 3GPP access time budget, milliseconds: TS 22.179 KPI 1, MCPTT access time ≤ 300 ms for 95 % of
 * requests. The `CallSetupLatency` p95 alarm fires above it.
 */
export const ACCESS_TIME_BUDGET_MS = 300;

/**
 * How often the SIP edge samples `EdgeActiveTransactions`, seconds; the scaling policy reads the
 * one-minute average.
 */
export const EDGE_GAUGE_PERIOD_SECONDS = 10;
