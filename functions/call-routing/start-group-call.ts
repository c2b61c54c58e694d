/**
 * An INVITE to one of our temporary groups (ARCHITECTURE.md step 1; TS 23.379 step 1): the caller
 * must be an affiliated member of a constituent group (else 403 with Warning 116/120; unknown TGI
 * 404); a retransmitted INVITE (same SIP Call-ID) never starts a second call; the workflow is
 * started and the edge holds the INVITE until the workflow's final response. The edge task that holds
 * it (`edgeUrl`, when it named itself) is stored with the call and passed to the workflow: every later
 * edge operation of the call (its legs, its final response, their CANCEL and BYE) goes to that task.
 */
import { randomUUID } from 'node:crypto';
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import type { Store } from '#adapters/dynamo/store.ts';
import type { MetricsSink } from '#adapters/metrics.ts';
import { authorizeGroupCall } from '#core/group-call-authorization.ts';
import type { EpochMs, SipUri } from '#core/model.ts';
import { WARNING_TEXT } from '#core/warning-codes.ts';
import type { CallRoute } from './route-call.ts';

export interface StartGroupCallDeps {
  store: Pick<Store, 'getTemporaryGroup' | 'groupsOfUser' | 'affiliationsOfUser'>;
  calls: Pick<CallStore, 'claimSipCallId' | 'createCall'>;
  startExecution(name: string, input: unknown): Promise<unknown>;
  now: () => EpochMs;
  /** How long the edge holds the INVITE for the workflow's answer. */
  holdTimeoutMs: number;
  /** CallsStarted when the workflow is started, CallsFailed (refused) for a caller who may not call. */
  metrics?: Pick<MetricsSink, 'add'>;
}

export const startGroupCall = async (
  call: { caller: SipUri; tgi: SipUri; sipCallId: string; edgeUrl?: string },
  deps: StartGroupCallDeps,
): Promise<CallRoute> => {
  const now = deps.now();
  const [temporaryGroup, callerGroups, affiliations] = await Promise.all([
    deps.store.getTemporaryGroup(call.tgi, now),
    deps.store.groupsOfUser(call.caller),
    deps.store.affiliationsOfUser(call.caller),
  ]);
  const verdict = authorizeGroupCall({
    caller: call.caller,
    tgi: call.tgi,
    temporaryGroup,
    callerGroups,
    callerAffiliations: affiliations.filter((a) => a.expiresAt > now).map((a) => a.groupId),
  });
  if (!verdict.ok) {
    deps.metrics?.add({ name: 'CallsFailed', reason: 'refused' });
    return {
      action: 'reject',
      status: verdict.status,
      reason: verdict.status === 404 ? 'Not Found' : 'Forbidden',
      ...(verdict.warningCode
        ? { warningCode: verdict.warningCode, warning: WARNING_TEXT[verdict.warningCode] }
        : {}),
    };
  }
  const claim = await deps.calls.claimSipCallId(call.sipCallId, randomUUID(), now);
  if (!claim.created) {
    // The same SIP Call-ID already started a call: never a second one (TS 24.379 Warning 123).
    return {
      action: 'reject',
      status: 491,
      reason: 'Request Pending',
      warningCode: 123,
      warning: 'MCPTT session already exists',
    };
  }
  await deps.calls.createCall({
    callId: claim.callId,
    sipCallId: call.sipCallId,
    tgi: call.tgi,
    caller: call.caller,
    createdAt: now,
    status: 'setting-up',
    ...(call.edgeUrl ? { edgeUrl: call.edgeUrl } : {}),
    // The member-response function decides on these policies (TS 24.481 commencement).
    ...(temporaryGroup ? { policy: temporaryGroup.policy } : {}),
  });
  await deps.startExecution(claim.callId, {
    callId: claim.callId,
    tgi: call.tgi,
    caller: call.caller,
    startedAt: now,
    ...(call.edgeUrl ? { edgeUrl: call.edgeUrl } : {}),
  });
  deps.metrics?.add({ name: 'CallsStarted' });
  return { action: 'hold', heldId: claim.callId, timeoutMs: deps.holdTimeoutMs };
};
