/**
 * Cancellation of a group regroup (TS 23.280 §10.2.4.3): reverses it on every system.
 *
 * Primary course:
 *  1. the temporary group exists and the caller may cancel it;
 *  2. mark it `cancelling` (calls on it are refused from now on) with the partners still to release;
 *  3. release our markers and ask every partner to release its groups, in parallel;
 *  4. all released → delete the temporary group. A partner that could not be reached stays listed
 *     in `pendingReleases`; the answer names it and a repeated cancel retries only what is left.
 */
import { mayCancelRegroup, type Principal } from '#core/authorization.ts';
import { DomainError, forbidden, notFound } from '#core/errors.ts';
import type { SystemDomain, TemporaryGroup } from '#core/model.ts';
import { logger } from '../shared/logger.ts';
import { notifyRegroup } from '../shared/notify-regroup.ts';
import { type RegroupDeps, releaseAtPartner } from './create-temporary-group.ts';

export const cancelTemporaryGroup = async (
  tgi: string,
  principal: Principal,
  deps: RegroupDeps,
): Promise<{ tgi: string; cancelled: true }> => {
  const now = deps.now();
  const tg = await deps.store.getTemporaryGroup(tgi, now);
  if (!tg || tg.status === 'pending') throw notFound(`no temporary group ${tgi}`);
  if (!mayCancelRegroup(principal, tg)) throw forbidden(`${principal.mcpttId} may not cancel ${tgi}`);

  const partners = [...new Set(tg.constituents.filter((c) => c.system !== deps.system).map((c) => c.system))];
  let cancelling: TemporaryGroup = tg;
  if (tg.status === 'active') {
    cancelling = { ...tg, status: 'cancelling', pendingReleases: partners };
    if (!(await deps.store.transitionTemporaryGroup(cancelling, 'active', now))) {
      throw notFound(`no temporary group ${tgi}`);
    }
  }

  const local = tg.constituents.filter((c) => c.system === deps.system).map((c) => c.groupId);
  await Promise.all(local.map((g) => deps.store.releaseMarker(g, tg.tgi)));
  if (tg.status === 'active') await notifyRegroup(deps, { action: 'regroup-cancelled', tgi: tg.tgi }, local);

  const agreements = new Map((await deps.store.listAgreements()).map((a) => [a.partner, a]));
  const toRelease = cancelling.pendingReleases ?? [];
  const outcomes = await Promise.all(
    toRelease.map(async (partner) => {
      const agreement = agreements.get(partner);
      // Without an agreement we can no longer reach that partner: nothing more we can do there.
      if (!agreement) return undefined;
      return releaseAtPartner(deps, agreement, tg.tgi);
    }),
  );
  const failed = outcomes.filter((o) => o !== undefined);
  if (failed.length > 0) {
    const remaining: SystemDomain[] = failed.map((f) => f.partner);
    await deps.store.transitionTemporaryGroup(
      { ...cancelling, pendingReleases: remaining },
      'cancelling',
      deps.now(),
    );
    const first = failed[0] as (typeof failed)[number];
    throw new DomainError(
      first.code,
      `cancel of ${tgi} incomplete: partner ${first.partner}: ${first.reason}; retry the cancel`,
      {
        details: { partner: first.partner, reason: first.reason, pendingReleases: remaining },
      },
    );
  }
  await deps.store.deleteTemporaryGroup(tg.tgi, 'cancelling');
  logger.info('temporary group cancelled', { system: deps.system, tgi: tg.tgi, by: principal.mcpttId });
  return { tgi: tg.tgi, cancelled: true };
};
