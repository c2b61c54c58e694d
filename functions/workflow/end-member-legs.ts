/**
 * Ends the live member legs of a group call at the edge that holds them: a leg still ringing gets
 * CANCEL (RFC 3261 §9.1), an answered one BYE (§15.1.1); legs that ended already are left alone.
 * One request to the edge for all of them (`POST /v1/legs/end`); the edge ends each leg on its own,
 * so one that cannot be ended does not stop the others.
 */
import type { LegRecord } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl, LegEnding } from '#adapters/edge-control-client.ts';

export interface EndedLegs {
  byes: number;
  cancels: number;
  /** Why the edge could not be asked (the request failed). */
  failures: unknown[];
}

export const endMemberLegs = async (
  callId: string,
  legs: readonly Pick<LegRecord, 'legId' | 'state'>[],
  edge: Pick<EdgeControl, 'endLegs'> | undefined,
): Promise<EndedLegs> => {
  const endings: LegEnding[] = legs.flatMap((l): LegEnding[] =>
    l.state === 'accepted'
      ? [{ legId: l.legId, action: 'bye' }]
      : l.state === 'pending'
        ? [{ legId: l.legId, action: 'cancel' }]
        : [],
  );
  const byes = endings.filter((e) => e.action === 'bye').length;
  const failures: unknown[] = [];
  if (endings.length > 0 && edge) {
    try {
      await edge.endLegs(callId, endings);
    } catch (e) {
      failures.push(e);
    }
  }
  return { byes, cancels: endings.length - byes, failures };
};

/** Whether a leg is still ringing or answered (something to end). */
export const isLive = (l: Pick<LegRecord, 'state'>): boolean =>
  l.state === 'pending' || l.state === 'accepted';
