/**
 * Ends the live member legs of a group call at the edge that holds them: a leg still ringing gets
 * CANCEL (RFC 3261 §9.1), an answered one BYE (§15.1.1); legs that ended already are left alone.
 * Best effort, each leg on its own: one that cannot be ended does not stop the others.
 */
import type { LegRecord } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';

export interface EndedLegs {
  byes: number;
  cancels: number;
  /** Why the legs the edge could not end failed. */
  failures: unknown[];
}

export const endMemberLegs = async (
  callId: string,
  legs: readonly Pick<LegRecord, 'legId' | 'state'>[],
  edge: Pick<EdgeControl, 'cancelLeg' | 'byeLeg'> | undefined,
): Promise<EndedLegs> => {
  const ringing = legs.filter((l) => l.state === 'pending');
  const answered = legs.filter((l) => l.state === 'accepted');
  const results = await Promise.allSettled([
    ...answered.map((l) => edge?.byeLeg(callId, l.legId)),
    ...ringing.map((l) => edge?.cancelLeg(callId, l.legId)),
  ]);
  return {
    byes: answered.length,
    cancels: ringing.length,
    failures: results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
};

/** Whether a leg is still ringing or answered (something to end). */
export const isLive = (l: Pick<LegRecord, 'state'>): boolean =>
  l.state === 'pending' || l.state === 'accepted';
