/**
 * Partner side of group regroup: a primary system asks us to put some of our groups into its
 * temporary group (TS 23.280 §10.2.4; TS 23.379 pre-condition 1: governed by the agreement).
 *
 * Primary course:
 *  1. the TGI belongs to the requesting system (a partner creates temporary groups only on itself);
 *  2. every group is ours, exists, and the agreement lets this partner regroup it;
 *  3. no group is regrouped into another TGI;
 *  4. claim every group with a pending marker (expiring); if one claim fails, undo the others;
 *  5. answer with each group's policies, for the primary to merge.
 */
import { partnerMayRegroup } from '#core/agreement.ts';
import { conflict, forbidden, notFound } from '#core/errors.ts';
import { domainOf, normalizeSipUri } from '#core/ids.ts';
import type { Group, PartnerAgreement, SipUri } from '#core/model.ts';
import {
  type AcceptRegroupRequest,
  type AcceptRegroupResponse,
  PENDING_CLAIM_MS,
} from '#core/partner-protocol.ts';
import type { AppDeps } from '../shared/deps.ts';
import { logger } from '../shared/logger.ts';
import { notifyRegroup } from '../shared/notify-regroup.ts';

export const acceptRegroup = async (
  req: AcceptRegroupRequest,
  agreement: PartnerAgreement,
  deps: AppDeps,
): Promise<AcceptRegroupResponse> => {
  const tgi = normalizeSipUri(req.tgi);
  if (domainOf(tgi) !== agreement.partner) {
    throw forbidden(`${agreement.partner} may only regroup into its own temporary groups, not ${tgi}`);
  }
  const groupIds = [...new Set(req.groups.map((g) => normalizeSipUri(g, deps.system)))];
  const groups: Group[] = [];
  for (const groupId of groupIds) {
    if (domainOf(groupId) !== deps.system)
      throw notFound(`${groupId} is not a group of ${deps.system}`, { groupId });
    const group = await deps.store.getGroup(groupId);
    if (!group) throw notFound(`no group ${groupId} on ${deps.system}`, { groupId });
    if (!partnerMayRegroup(agreement, groupId)) {
      throw forbidden(`the agreement with ${agreement.partner} does not allow regrouping ${groupId}`, {
        groupId,
      });
    }
    groups.push(group);
  }
  const now = deps.now();
  for (const groupId of groupIds) {
    const marker = await deps.store.getMarker(groupId, now);
    if (marker && marker.tgi !== tgi)
      throw conflict(`${groupId} is already regrouped into ${marker.tgi}`, { groupId });
  }
  const claimed: SipUri[] = [];
  for (const groupId of groupIds) {
    const ok = await deps.store.claimMarker(
      {
        groupId,
        tgi,
        primary: agreement.partner,
        status: 'pending',
        createdAt: now,
        expiresAt: now + PENDING_CLAIM_MS,
      },
      now,
    );
    if (!ok) {
      await Promise.allSettled(claimed.map((g) => deps.store.releaseMarker(g, tgi)));
      throw conflict(`${groupId} was regrouped by someone else meanwhile`, { groupId });
    }
    claimed.push(groupId);
  }
  logger.info('regroup accepted', { tgi, from: agreement.partner, system: deps.system, groups: groupIds });
  return {
    tgi,
    groups: groups.map((g) => ({ groupId: g.groupId, displayName: g.displayName, policy: g.policy })),
  };
};

/** Makes the claims of a TGI permanent. 404 when none is left (expired or released). */
export const confirmRegroup = async (tgi: SipUri, agreement: PartnerAgreement, deps: AppDeps) => {
  if (domainOf(tgi) !== agreement.partner)
    throw forbidden(`${tgi} is not a temporary group of ${agreement.partner}`);
  const now = deps.now();
  const markers = await deps.store.markersOf(tgi, now);
  if (markers.length === 0) throw notFound(`no pending regroup ${tgi}`);
  const results = await Promise.all(markers.map((m) => deps.store.activateMarker(m.groupId, tgi, now)));
  if (!results.every(Boolean)) throw conflict(`regroup ${tgi} expired before confirmation`);
  await notifyRegroup(
    deps,
    { action: 'regrouped', tgi },
    markers.map((m) => m.groupId),
  );
  logger.info('regroup confirmed', {
    tgi,
    from: agreement.partner,
    system: deps.system,
    groups: markers.map((m) => m.groupId),
  });
  return { tgi, confirmed: markers.map((m) => m.groupId) };
};

/** Releases every claim of a TGI; idempotent. */
export const releaseRegroup = async (tgi: SipUri, agreement: PartnerAgreement, deps: AppDeps) => {
  if (domainOf(tgi) !== agreement.partner)
    throw forbidden(`${tgi} is not a temporary group of ${agreement.partner}`);
  const markers = await deps.store.markersOf(tgi, deps.now());
  await Promise.all(markers.map((m) => deps.store.releaseMarker(m.groupId, tgi)));
  const wereActive = markers.filter((m) => m.status === 'active').map((m) => m.groupId);
  await notifyRegroup(deps, { action: 'regroup-cancelled', tgi }, wereActive);
  logger.info('regroup released', {
    tgi,
    from: agreement.partner,
    system: deps.system,
    groups: markers.map((m) => m.groupId),
  });
  return { tgi, released: markers.map((m) => m.groupId) };
};
