/**
 * Group regroup on the primary system (TS 23.280 §10.2.4, §10.15; TS 23.379 pre-condition 3).
 *
 * Primary course:
 *  1. the caller may regroup (dispatcher or admin of this system);
 *  2. plan: normalize the constituents, split them into ours and each partner's, allocate the TGI;
 *  3. our constituent groups exist and are not regrouped elsewhere;
 *  4. reserve the TGI (pending, expiring) and claim our groups (pending markers, expiring);
 *  5. ask every partner, in parallel, to accept its groups (signed partner API);
 *  6. every partner accepted → confirm at each partner, activate our markers, activate the temporary
 *     group with the merged policies. Any refusal, timeout or error → release everything on every
 *     system and answer with the partner and its reason.
 * Pending records expire by themselves, so a crash midway leaves nothing that counts.
 */

import type { Store } from '#adapters/dynamo/store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import type { PartnerClient } from '#adapters/partner-client.ts';
import { assertMayRegroup, type Principal } from '#core/authorization.ts';
import { mergeCallPolicies } from '#core/call-policy.ts';
import { conflict, DomainError, notFound } from '#core/errors.ts';
import type {
  CallPolicy,
  EpochMs,
  PartnerAgreement,
  SipUri,
  SystemDomain,
  TemporaryGroup,
} from '#core/model.ts';
import { AcceptRegroupResponse, PENDING_CLAIM_MS, regroupPath } from '#core/partner-protocol.ts';
import { planRegroup, type RegroupRequest } from '#core/regroup-plan.ts';
import { logger } from '../shared/logger.ts';
import { notifyRegroup } from '../shared/notify-regroup.ts';

export interface RegroupDeps {
  system: SystemDomain;
  store: Store;
  partners: PartnerClient;
  now: () => EpochMs;
  /** The SIP edge, for the regroup notices (locally) … */
  edge?: EdgeControl;
  /** … or the message-relay function (AWS: regroups is outside the VPC); preferred when set. */
  messages?: Pick<EdgeControl, 'sendMessages'>;
}

interface PartnerFailure {
  partner: SystemDomain;
  code: 'partner_refused' | 'partner_unavailable' | 'partner_timeout';
  reason: string;
  status?: number;
}

export const createTemporaryGroup = async (
  request: RegroupRequest,
  principal: Principal,
  deps: RegroupDeps,
): Promise<TemporaryGroup> => {
  assertMayRegroup(principal);
  const agreements = await deps.store.listAgreements();
  const plan = planRegroup(request, { system: deps.system, agreements });
  const byPartner = new Map(agreements.map((a) => [a.partner, a]));

  // 3. Our constituents exist and are free.
  const now = deps.now();
  const localGroups = await Promise.all(plan.local.map((g) => deps.store.getGroup(g)));
  const missing = plan.local.filter((_, i) => !localGroups[i]);
  if (missing.length > 0)
    throw notFound(`no group ${missing.join(', ')} on ${deps.system}`, { groups: missing });
  for (const groupId of plan.local) {
    const marker = await deps.store.getMarker(groupId, now);
    if (marker && marker.tgi !== plan.tgi)
      throw conflict(`${groupId} is already regrouped into ${marker.tgi}`);
  }

  // 4. Reserve the TGI and claim our groups, all pending until every partner said yes.
  const expiresAt = now + PENDING_CLAIM_MS;
  const pending: TemporaryGroup = {
    tgi: plan.tgi,
    displayName: plan.displayName,
    constituents: plan.constituents,
    creator: principal.mcpttId,
    policy: mergeCallPolicies([]),
    status: 'pending',
    createdAt: now,
    expiresAt,
  };
  if (!(await deps.store.reserveTemporaryGroup(pending, now)))
    throw conflict(`temporary group ${plan.tgi} already exists`);
  const claimed: SipUri[] = [];
  const undoLocal = async () => {
    await Promise.allSettled(claimed.map((g) => deps.store.releaseMarker(g, plan.tgi)));
    await deps.store.deleteTemporaryGroup(plan.tgi, 'pending').catch(() => undefined);
  };
  for (const groupId of plan.local) {
    const ok = await deps.store.claimMarker(
      { groupId, tgi: plan.tgi, primary: deps.system, status: 'pending', createdAt: now, expiresAt },
      now,
    );
    if (!ok) {
      await undoLocal();
      throw conflict(`${groupId} was regrouped by someone else meanwhile`);
    }
    claimed.push(groupId);
  }

  // 5. Every partner, in parallel.
  const partnerEntries = [...plan.partners.entries()];
  const results = await Promise.all(
    partnerEntries.map(([partner, groups]) =>
      askPartnerToAccept(deps, byPartner.get(partner) as PartnerAgreement, {
        tgi: plan.tgi,
        displayName: plan.displayName,
        creator: principal.mcpttId,
        groups,
      }),
    ),
  );
  let failures = results.filter((r): r is PartnerFailure => 'code' in r);

  // 6a. All accepted: confirm at each partner.
  if (failures.length === 0) {
    const confirms = await Promise.all(
      partnerEntries.map(([partner]) =>
        confirmAtPartner(deps, byPartner.get(partner) as PartnerAgreement, plan.tgi),
      ),
    );
    failures = confirms.filter((r): r is PartnerFailure => r !== undefined);
  }

  // 6b. Any failure: release everywhere and name the partner.
  if (failures.length > 0) {
    await Promise.all(
      partnerEntries.map(([partner]) =>
        releaseAtPartner(deps, byPartner.get(partner) as PartnerAgreement, plan.tgi),
      ),
    );
    await undoLocal();
    const first = failures[0] as PartnerFailure;
    throw new DomainError(first.code, `partner ${first.partner}: ${first.reason}`, {
      details: { partner: first.partner, reason: first.reason, failures },
    });
  }

  // 6c. Activate ours: markers first, then the temporary group (which makes it visible).
  const policies: CallPolicy[] = [
    ...localGroups.flatMap((g) => (g ? [g.policy] : [])),
    ...results.flatMap((r) => ('groups' in r ? r.groups.map((g) => g.policy) : [])),
  ];
  const active: TemporaryGroup = {
    ...pending,
    policy: mergeCallPolicies(policies, request.policy),
    status: 'active',
  };
  delete active.expiresAt;
  const activated = await Promise.all(claimed.map((g) => deps.store.activateMarker(g, plan.tgi, deps.now())));
  const done =
    activated.every(Boolean) && (await deps.store.transitionTemporaryGroup(active, 'pending', deps.now()));
  if (!done) {
    await Promise.all(
      partnerEntries.map(([partner]) =>
        releaseAtPartner(deps, byPartner.get(partner) as PartnerAgreement, plan.tgi),
      ),
    );
    await undoLocal();
    throw conflict(`regroup ${plan.tgi} took longer than ${PENDING_CLAIM_MS} ms and was abandoned`);
  }
  await notifyRegroup(
    deps,
    { action: 'regrouped', tgi: plan.tgi, displayName: plan.displayName },
    plan.local,
  );
  logger.info('temporary group created', {
    system: deps.system,
    tgi: plan.tgi,
    constituents: plan.constituents,
    creator: principal.mcpttId,
  });
  return active;
};

const reasonOf = (body: unknown, status: number): string => {
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string')
    return body.message;
  if (typeof body === 'string' && body) return body.slice(0, 200);
  return `HTTP ${status}`;
};

const asFailure = (partner: SystemDomain, e: unknown): PartnerFailure => {
  if (e instanceof DomainError && (e.code === 'partner_timeout' || e.code === 'partner_unavailable')) {
    return { partner, code: e.code, reason: String(e.details?.reason ?? e.message) };
  }
  return { partner, code: 'partner_unavailable', reason: e instanceof Error ? e.message : String(e) };
};

const askPartnerToAccept = async (
  deps: RegroupDeps,
  agreement: PartnerAgreement,
  body: { tgi: SipUri; displayName: string; creator: SipUri; groups: SipUri[] },
): Promise<AcceptRegroupResponse | PartnerFailure> => {
  try {
    const res = await deps.partners.send(agreement, { method: 'POST', path: regroupPath(), body });
    if (res.status === 200 || res.status === 201) {
      const parsed = AcceptRegroupResponse.safeParse(res.body);
      if (parsed.success && parsed.data.tgi === body.tgi) return parsed.data;
      return {
        partner: agreement.partner,
        code: 'partner_unavailable',
        reason: 'malformed answer to regroup request',
      };
    }
    const code = res.status >= 500 ? 'partner_unavailable' : 'partner_refused';
    return { partner: agreement.partner, code, status: res.status, reason: reasonOf(res.body, res.status) };
  } catch (e) {
    return asFailure(agreement.partner, e);
  }
};

const confirmAtPartner = async (
  deps: RegroupDeps,
  agreement: PartnerAgreement,
  tgi: SipUri,
): Promise<PartnerFailure | undefined> => {
  try {
    const res = await deps.partners.send(agreement, { method: 'POST', path: regroupPath(tgi, '/confirm') });
    if (res.status === 200) return undefined;
    const code = res.status >= 500 ? 'partner_unavailable' : 'partner_refused';
    return { partner: agreement.partner, code, status: res.status, reason: reasonOf(res.body, res.status) };
  } catch (e) {
    return asFailure(agreement.partner, e);
  }
};

/** Best effort; a partner that cannot be reached keeps only a pending claim, which expires. */
export const releaseAtPartner = async (
  deps: Pick<RegroupDeps, 'partners'>,
  agreement: PartnerAgreement,
  tgi: SipUri,
): Promise<PartnerFailure | undefined> => {
  try {
    const res = await deps.partners.send(agreement, { method: 'DELETE', path: regroupPath(tgi) });
    if (res.status === 200 || res.status === 204) return undefined;
    const code = res.status >= 500 ? 'partner_unavailable' : 'partner_refused';
    return { partner: agreement.partner, code, status: res.status, reason: reasonOf(res.body, res.status) };
  } catch (e) {
    const failure = asFailure(agreement.partner, e);
    logger.warn('release at partner failed', { tgi, ...failure });
    return failure;
  }
};
