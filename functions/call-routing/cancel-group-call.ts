/**
 * The caller cancelled its group call before the final response (RFC 3261 §9.2; ARCHITECTURE.md
 * step 8): the edge already answered 487; here the workflow is stopped and every member leg is
 * released at once — pending legs get CANCEL, answered ones BYE, through the edge task that holds
 * them (the call's `edgeUrl`) — unless the call setup decision was already taken (then
 * CompleteCallSetup, unable to deliver its answer, releases the legs).
 */
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import type { MetricsSink } from '#adapters/metrics.ts';
import type { WorkflowClient } from '#adapters/workflow-client.ts';
import { logger } from '../shared/logger.ts';
import { endMemberLegs, isLive } from '../workflow/end-member-legs.ts';

export const cancelGroupCall = async (
  callId: string,
  deps: {
    calls: Pick<CallStore, 'claimDecision' | 'setStatus' | 'readCall'>;
    workflow: Pick<WorkflowClient, 'stopExecution'>;
    stateMachineArn: string;
    /** The edge task at a call's `edgeUrl` (the default edge without one); undefined: no edge configured. */
    edgeFor: (url?: string) => Pick<EdgeControl, 'endLegs'> | undefined;
    /** CallsFailed (cancelled) for a call cancelled before its final response. */
    metrics?: Pick<MetricsSink, 'add'>;
  },
): Promise<{ cancelled: boolean }> => {
  if (!(await deps.calls.claimDecision(callId))) return { cancelled: false };
  await deps.calls.setStatus(callId, 'cancelled');
  deps.metrics?.add({ name: 'CallsFailed', reason: 'cancelled' });
  await deps.workflow
    .stopExecution(deps.stateMachineArn, callId, 'the caller cancelled the call')
    .catch((e: unknown) => {
      logger.warn('stop of the call setup execution failed', { callId, reason: (e as Error).message });
    });
  const { call, legs: all } = await deps.calls.readCall(callId);
  const legs = all.filter(isLive);
  if (legs.length === 0) return { cancelled: true };
  await endMemberLegs(callId, legs, deps.edgeFor(call?.edgeUrl));
  return { cancelled: true };
};
