/**
 * The initiator hung up an established group call (BYE, RFC 3261 §15.1.2; TS 24.379 §10.1.1.4.3
 * release by the originating client): the call becomes `released` once, and every member leg ends —
 * answered legs get BYE, legs still ringing (the call started with the minimum) get CANCEL — through
 * the edge task that holds them (the call's `edgeUrl`), whichever task received the BYE.
 */
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import { logger } from '../shared/logger.ts';
import { endMemberLegs, isLive } from '../workflow/end-member-legs.ts';

export const releaseGroupCall = async (
  callId: string,
  deps: {
    calls: Pick<CallStore, 'markReleased' | 'readCall'>;
    /** The edge task at a call's `edgeUrl` (the default edge without one); undefined: no edge configured. */
    edgeFor: (url?: string) => Pick<EdgeControl, 'endLegs'> | undefined;
  },
): Promise<{ released: boolean; byes: number; cancels: number }> => {
  if (!(await deps.calls.markReleased(callId))) return { released: false, byes: 0, cancels: 0 };
  const { call, legs: all } = await deps.calls.readCall(callId);
  const legs = all.filter(isLive);
  if (legs.length === 0) return { released: true, byes: 0, cancels: 0 };
  const edge = deps.edgeFor(call?.edgeUrl);
  const { byes, cancels, failures } = await endMemberLegs(callId, legs, edge);
  if (failures.length > 0) {
    logger.warn('some member legs could not be released', {
      callId,
      failed: failures.length,
      reason: String(failures[0]),
    });
  }
  return { released: true, byes, cancels };
};
