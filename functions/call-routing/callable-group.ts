/**
 * What a group call can be set up on: a temporary group of ours, or — the same workflow without
 * partners — one of our ordinary groups that is not regrouped (a regrouped group is redirected to its
 * TGI with 302 instead). An ordinary group is seen as a temporary group with itself as only constituent.
 */
import type { Store } from '#adapters/dynamo/store.ts';
import { domainOf } from '#core/ids.ts';
import type { EpochMs, SipUri, TemporaryGroup } from '#core/model.ts';

export const callableGroup = async (
  store: Pick<Store, 'getTemporaryGroup' | 'getGroup' | 'getMarker'>,
  target: SipUri,
  now: EpochMs,
): Promise<TemporaryGroup | undefined> => {
  const tg = await store.getTemporaryGroup(target, now);
  if (tg) return tg;
  const group = await store.getGroup(target);
  if (!group) return undefined;
  const marker = await store.getMarker(target, now);
  if (marker?.status === 'active') return undefined;
  return {
    tgi: group.groupId,
    displayName: group.displayName,
    constituents: [{ groupId: group.groupId, system: domainOf(group.groupId) }],
    creator: group.groupId,
    policy: group.policy,
    status: 'active',
    createdAt: 0,
  };
};
