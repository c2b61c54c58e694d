/**
 * Partner side of the interrogation (TS 23.379 steps 3–4): the primary asks for the affiliated
 * members of our groups it regrouped, to invite them.
 *
 * Primary course:
 *  1. the temporary group belongs to the requesting system;
 *  2. every group is ours and regrouped (active marker) into exactly that temporary group;
 *  3. per group: the members with an unexpired affiliation, with their `required` flag, and only the
 *     user fields our agreement with that system shares (TS 23.379 pre-condition 1).
 */
import { filterUserForPartner } from '#core/agreement.ts';
import { forbidden, notFound } from '#core/errors.ts';
import { domainOf, normalizeSipUri } from '#core/ids.ts';
import type { PartnerAgreement, SipUri } from '#core/model.ts';
import type { InterrogationRequest, InterrogationResponse } from '#core/partner-protocol.ts';
import type { AppDeps } from '../shared/deps.ts';

export const interrogateGroups = async (
  req: InterrogationRequest,
  agreement: PartnerAgreement,
  deps: AppDeps,
): Promise<InterrogationResponse> => {
  const tgi = normalizeSipUri(req.tgi);
  if (domainOf(tgi) !== agreement.partner) {
    throw forbidden(`${agreement.partner} may only interrogate for its own temporary groups, not ${tgi}`);
  }
  const now = deps.now();
  const groups: InterrogationResponse['groups'] = [];
  for (const input of [...new Set(req.groups)]) {
    const groupId = normalizeSipUri(input, deps.system);
    if (domainOf(groupId) !== deps.system)
      throw notFound(`${groupId} is not a group of ${deps.system}`, { groupId });
    const marker = await deps.store.getMarker(groupId, now);
    if (marker?.status !== 'active' || marker.tgi !== tgi) {
      throw forbidden(`${groupId} is not regrouped into ${tgi}`, { groupId });
    }
    const [affiliations, members] = await Promise.all([
      deps.store.affiliationsToGroup(groupId, now),
      deps.store.listMembers(groupId),
    ]);
    const required = new Map(members.map((m) => [m.mcpttId, m.required]));
    const affiliated = [...new Set(affiliations.map((a) => a.mcpttId))].filter((id) => required.has(id));
    const byId = await deps.store.getUsers(affiliated);
    const users = affiliated.map((id) => byId.get(id));
    groups.push({
      groupId,
      members: users.flatMap((u) =>
        u
          ? [{ ...filterUserForPartner(u.user, agreement), required: required.get(u.user.mcpttId) ?? false }]
          : [],
      ),
    });
  }
  // The call pass: what this interrogation found, for the legs of this call that follow within
  // moments (functions/call-routing/authorize-partner-leg.ts checks a leg against it, with no read of
  // groups, markers or registrations per leg). The members' registrations in one batch read.
  const memberIds = [...new Set(groups.flatMap((g) => g.members.map((m) => normalizeSipUri(m.mcpttId))))];
  const registrations = await deps.store.registrationsOf(memberIds, now);
  const contactsOf = (id: SipUri) =>
    [...(registrations.get(id) ?? [])].sort((a, b) => b.expiresAt - a.expiresAt).map((r) => r.contact);
  await deps.store.putCallPass({
    tgi,
    callId: req.callId,
    members: Object.fromEntries(memberIds.map((id) => [id, contactsOf(id)])),
    expiresAt: now + CALL_PASS_LIFETIME_MS,
  });
  return { tgi, groups };
};

/** How long a call pass lets legs in: the primary invites right after interrogating. */
export const CALL_PASS_LIFETIME_MS = 60_000;
