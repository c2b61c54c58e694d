/**
 * Affiliation bookkeeping (TS 24.379 §9.2). An affiliation is valid while `now < expiresAt`.
 */
import type { Affiliation, EpochMs, SipUri } from './model.ts';

/** True while `now` is strictly before `expiresAt`. */
export function isActive(x: { expiresAt: EpochMs }, now: EpochMs): boolean {
  return now < x.expiresAt;
}

/** The elements of `xs` that are active at `now`, in their original order. */
export function activeOnly<T extends { expiresAt: number }>(xs: readonly T[], now: EpochMs): T[] {
  return xs.filter((x) => isActive(x, now));
}

/** One client's complete affiliation state, as carried by a PUBLISH (see `affiliation-pidf.ts`). */
export interface ClientAffiliations {
  mcpttId: SipUri;
  clientId: string;
  affiliations: { groupId: SipUri; expiresAt: EpochMs }[];
}

/**
 * What to write to the store after a client published its affiliations.
 *
 * The PIDF body carries the FULL set of the client's groups (TS 24.379 §9.2.1), so:
 * - `remove`: the client's current affiliations (same `mcpttId` and `clientId`) whose group is
 *   absent from `next`, or present with `expiresAt <= now` (expires 0 = de-affiliation);
 * - `upsert`: every group of `next` with `expiresAt > now` (new or refreshed).
 *
 * Affiliations of other users, and of other clients of the same user, are never touched. When
 * `next` lists a group twice, the last entry wins.
 */
export function planAffiliationUpdate(
  current: readonly Affiliation[],
  next: ClientAffiliations,
  now: EpochMs,
): { upsert: Affiliation[]; remove: Affiliation[] } {
  const wanted = new Map<SipUri, EpochMs>();
  for (const a of next.affiliations) wanted.set(a.groupId, a.expiresAt);

  const upsert: Affiliation[] = [];
  for (const [groupId, expiresAt] of wanted) {
    if (expiresAt > now) upsert.push({ mcpttId: next.mcpttId, groupId, clientId: next.clientId, expiresAt });
  }
  const remove = current.filter((a) => {
    if (a.mcpttId !== next.mcpttId || a.clientId !== next.clientId) return false;
    const expiresAt = wanted.get(a.groupId);
    return expiresAt === undefined || expiresAt <= now;
  });
  return { upsert, remove };
}
