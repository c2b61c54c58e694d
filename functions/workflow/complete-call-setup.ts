/**
 * Workflow step CompleteCallSetup (ARCHITECTURE.md steps 6–7; TS 23.379 step 6, "call setup complete"):
 * the one place the initiator's held INVITE gets its final response, whatever path the workflow took.
 *
 * The final decision, in order:
 * 1. `$.failure` (a task failed) → 503 Service Unavailable when the failure is one of availability
 *    (a timeout, throttling, an unavailable service or partner), otherwise 500 Server Internal Error;
 * 2. `$.policy.decision == 'reject'` (ApplyCommencementPolicy found nobody to invite) → 480;
 * 3. otherwise the commencement policy (core/commencement-policy.ts) on the call's legs, with
 *    `timerExpired` = `$.timerExpired` or no leg pending. Should that still say `wait` (the workflow
 *    stopped waiting on a decision the legs no longer show, e.g. a report not yet stored), it is taken
 *    as final: the workflow does not wait any more, so pending legs count as not accepted.
 *
 * The response (core/final-response.ts, TS 24.379 §4.4.2, §6.3.3.3):
 * - proceed → 200 OK with a multipart/mixed body: the edge's SDP answer (the MCPTT media/floor
 *   control line of the edge) and the call setup result (core/call-setup-result.ts), plus
 *   `Warning: 399 <host> "111 …"` when the call proceeded without all required members.
 *   No `P-Answer-State: Unconfirmed` (RFC 4964; TS 24.379 §10.1.1.4.1): that header announces a 200 OK
 *   sent *before* any invited member accepted. Here the 200 OK is sent only after the commencement
 *   policy saw the accepting members it needs, so the answer is confirmed;
 * - abandon / reject → 480 Temporarily Unavailable with the result body, and Warning 112 when the call
 *   was abandoned for required members;
 * - failure → 500 / 503 with the result body.
 *
 * After the answer: on abandon, reject or failure, pending legs are cancelled and answered legs get a
 * BYE; if the held INVITE could not be answered (the initiator cancelled, the edge lost it) a proceed
 * is torn down the same way. The call's status is set (established / failed / cancelled) when the
 * call exists, and the decision is claimed so a late member response no longer completes anything.
 *
 * Every edge operation goes to the edge task that holds the call (`$.edgeUrl`, else the call record's
 * `edgeUrl`, else the system's default edge): the held INVITE and the legs live there.
 */
import type { CallStore, LegRecord } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import type { MetricsSink } from '#adapters/metrics.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import {
  buildCallSetupResultXml,
  CALL_SETUP_RESULT_TYPE,
  type CallSetupResult,
  type LegOutcome,
  summarizeLegs,
} from '#core/call-setup-result.ts';
import { evaluateCommencement, type FinalCommencementDecision } from '#core/commencement-policy.ts';
import { finalResponseFor } from '#core/final-response.ts';
import { domainOf } from '#core/ids.ts';
import type { CallPolicy, EpochMs, SipUri, SystemDomain } from '#core/model.ts';
import { mcpttWarning } from '#core/warning-codes.ts';
import { buildMultipart, SDP_CONTENT_TYPE } from '../../sip/message/multipart.ts';
import type { Interrogation } from './apply-commencement-policy.ts';
import { endMemberLegs } from './end-member-legs.ts';

/** The final response of the held INVITE (edge/control-api.ts `POST /v1/held/{heldId}/final`). */
export interface HeldFinal {
  status: number;
  reason: string;
  body?: { contentType: string; data: string };
  headers?: [string, string][];
}

/** What CompleteCallSetup needs of the SIP edge. */
export interface CallSetupEdge {
  /** Sends the final response of the call's held INVITE. */
  held(callId: string, final: HeldFinal): Promise<void>;
  /** CANCELs the ringing legs and BYEs the answered ones, in one request. */
  endLegs: EdgeControl['endLegs'];
}

export interface CompleteCallSetupDeps {
  calls: Pick<CallStore, 'readCall' | 'setStatus' | 'claimDecision'>;
  /** The edge task at a call's `edgeUrl`; the system's default edge when `url` is undefined. */
  edgeFor(url?: string): CallSetupEdge;
  now: () => EpochMs;
  /** Host of the Warning header; default: the domain of the TGI. */
  system?: SystemDomain;
  /** The edge's SDP answer; default {@link edgeSdpAnswer}(). */
  sdpAnswer?: string;
  /**
   * CallSetupLatency, and CallsSucceeded or CallsFailed (abandoned / error); nothing for a call the caller
   * cancelled (call-routing counted it). Legs still pending are counted when the edge reports them
   * (member-response: a late answer, or 487 after the CANCEL sent here, counted as `timeout`).
   */
  metrics?: Pick<MetricsSink, 'add'>;
}

/** The workflow state CompleteCallSetup reads (any step may have failed before it). */
export interface CompleteCallSetupState {
  callId: string;
  tgi?: SipUri;
  /** The call policy (before ApplyCommencementPolicy), or ApplyCommencementPolicy's result. */
  policy?:
    | CallPolicy
    | { decision: string; callPolicy?: CallPolicy; reason?: string; acknowledgementTimeoutSeconds?: number };
  interrogations?: readonly Interrogation[];
  responses?: unknown;
  timerExpired?: boolean;
  failure?: { Error?: string; Cause?: string };
  /** When the INVITE arrived, for `setupMs` when there is no call record. */
  receivedAt?: EpochMs;
  /** The control API of the edge task holding the call (from the execution input). */
  edgeUrl?: string;
}

export interface CompleteCallSetupOutput {
  result: CallSetupResult;
  /** The final response sent (or meant to be sent) to the initiator. */
  status: number;
  reason: string;
  warningCode?: 111 | 112;
  /** Whether the edge took the final response. */
  delivered: boolean;
}

/** A fixed SDP answer of the edge: one MCPTT floor control/media-plane line (TS 24.380 §12). */
export const edgeSdpAnswer = (address = '127.0.0.1', port = 9000, sessionId = '0'): string =>
  [
    'v=0',
    `o=- ${sessionId} 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=application ${port} udp MCPTT`,
    'a=fmtp:MCPTT mc_queueing',
    '',
  ].join('\r\n');

const AVAILABILITY_ERRORS = /timeout|unavailable|throttl|toomanyrequests|serviceexception|limitexceeded/i;

/** 503 for availability failures (timeouts, throttling, unavailable services), 500 otherwise. */
export const failureStatusOf = (failure: { Error?: string; Cause?: string }): 500 | 503 =>
  AVAILABILITY_ERRORS.test(failure.Error ?? '') ? 503 : 500;

const isPolicyResult = (
  p: CompleteCallSetupState['policy'],
): p is { decision: string; callPolicy?: CallPolicy; reason?: string } =>
  typeof p === 'object' && p !== null && 'decision' in p;

/** Unavailable partners of `$.interrogations`, with their reason. */
export const unavailablePartnersOf = (
  interrogations: readonly Interrogation[] | undefined,
): Map<SystemDomain, string> => {
  const out = new Map<SystemDomain, string>();
  for (const i of interrogations ?? []) {
    if (!('unavailable' in i) || i.unavailable !== true) continue;
    const cause = i.reason?.Cause?.trim();
    out.set(i.partner, cause || i.reason?.Error || 'unavailable');
  }
  return out;
};

const outcomeOf = (leg: LegRecord): LegOutcome => ({
  member: leg.member,
  system: leg.system,
  required: leg.required,
  state: leg.state,
  ...(leg.status ? { status: leg.status } : {}),
  ...(leg.reason ? { reason: leg.reason } : {}),
});

const abandon = (reason: string, warningCode?: 112): FinalCommencementDecision => ({
  decision: 'abandon',
  status: 480,
  warningCode,
  reason,
});

export const completeCallSetup = async (
  state: CompleteCallSetupState,
  deps: CompleteCallSetupDeps,
): Promise<CompleteCallSetupOutput> => {
  const { callId } = state;
  const { call, legs } = await deps.calls.readCall(callId);
  const tgi = state.tgi ?? call?.tgi;
  const edge = deps.edgeFor(state.edgeUrl ?? call?.edgeUrl);
  if (!tgi) throw new Error(`completeCallSetup: no TGI for call ${callId}`);
  const callPolicy: CallPolicy =
    (isPolicyResult(state.policy) ? state.policy.callPolicy : state.policy) ??
    call?.policy ??
    DEFAULT_CALL_POLICY;

  // The decision and the status line.
  let decision: FinalCommencementDecision;
  let status: number;
  let reason: string;
  if (state.failure) {
    status = failureStatusOf(state.failure);
    reason = status === 503 ? 'Service Unavailable' : 'Server Internal Error';
    decision = abandon(`${state.failure.Error ?? 'failure'}: ${state.failure.Cause ?? ''}`.trim());
  } else if (isPolicyResult(state.policy) && state.policy.decision === 'reject') {
    decision = abandon(state.policy.reason ?? 'call setup rejected');
    ({ status, reason } = finalResponseFor(decision));
  } else {
    const views = legs.map(outcomeOf);
    const timerExpired = state.timerExpired === true || !legs.some((l) => l.state === 'pending');
    let d = evaluateCommencement(callPolicy, views, { timerExpired });
    if (d.decision === 'wait') d = evaluateCommencement(callPolicy, views, { timerExpired: true });
    decision = d as FinalCommencementDecision;
    ({ status, reason } = finalResponseFor(decision));
  }

  const createdAt = call?.createdAt ?? state.receivedAt;
  const setupMs = createdAt === undefined ? 0 : Math.max(0, deps.now() - createdAt);
  const result = summarizeLegs(
    tgi,
    callId,
    legs.map(outcomeOf),
    unavailablePartnersOf(state.interrogations),
    decision,
    setupMs,
  );
  const xml = buildCallSetupResultXml(result);

  const headers: [string, string][] = [];
  const warningCode = state.failure ? undefined : decision.warningCode;
  if (warningCode !== undefined)
    headers.push(['Warning', mcpttWarning(deps.system ?? domainOf(tgi), warningCode)]);
  let body: HeldFinal['body'];
  if (status === 200) {
    const multipart = buildMultipart([
      { headers: [['Content-Type', SDP_CONTENT_TYPE]], body: Buffer.from(deps.sdpAnswer ?? edgeSdpAnswer()) },
      { headers: [['Content-Type', CALL_SETUP_RESULT_TYPE]], body: Buffer.from(xml) },
    ]);
    body = { contentType: multipart.contentType, data: multipart.body.toString('utf8') };
  } else {
    body = { contentType: CALL_SETUP_RESULT_TYPE, data: xml };
  }
  if (call) {
    // A member response arriving from now on must not complete anything.
    await deps.calls.claimDecision(callId);
    // The call is established before the initiator can see its 200: the initiator may hang up at
    // once, and the release (CallStore.markReleased) only ends an established call's member legs.
    if (status === 200) await deps.calls.setStatus(callId, 'established');
  }
  let delivered = true;
  try {
    await edge.held(callId, { status, reason, body, ...(headers.length > 0 ? { headers } : {}) });
  } catch {
    delivered = false;
  }

  const established = status === 200 && delivered;
  if (!established) await endMemberLegs(callId, legs, edge);
  if (call && !established) await deps.calls.setStatus(callId, status === 200 ? 'cancelled' : 'failed');
  if (deps.metrics && call?.status !== 'cancelled') {
    const { metrics } = deps;
    // To the final response handed to the edge.
    if (createdAt !== undefined) {
      metrics.add({ name: 'CallSetupLatency', value: Math.max(0, deps.now() - createdAt) });
    }
    if (established) metrics.add({ name: 'CallsSucceeded' });
    else {
      // An undelivered 200 (the edge lost the INVITE) is an error, as a failed workflow is.
      metrics.add({ name: 'CallsFailed', reason: state.failure || status === 200 ? 'error' : 'abandoned' });
    }
  }
  return { result, status, reason, ...(warningCode !== undefined ? { warningCode } : {}), delivered };
};
