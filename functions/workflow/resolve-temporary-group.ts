/**
 * Workflow step ResolveTemporaryGroup (ARCHITECTURE.md step 2; TS 23.379 step 2): the temporary
 * group's constituent groups with their hosting systems, the affiliated members of our own
 * constituents (with their `required` flag), the partner constituents to interrogate, and the
 * temporary group's one set of policies.
 */
import { notFound } from '#core/errors.ts';
import type { CallPolicy, SipUri, SystemDomain } from '#core/model.ts';
import { callableGroup } from '../call-routing/callable-group.ts';
import type { AppDeps } from '../shared/deps.ts';

export interface ResolveInput {
  callId: string;
  tgi: SipUri;
}

export interface ResolvedMember {
  mcpttId: SipUri;
  system: SystemDomain;
  required: boolean;
  groupId: SipUri;
}

export interface ResolvedTemporaryGroup {
  callId: string;
  tgi: SipUri;
  policy: CallPolicy;
  /** The acknowledgement timer in whole seconds, for the workflow's dynamic state timeout. */
  acknowledgementTimeoutSeconds: number;
  localMembers: ResolvedMember[];
  /** One entry per partner system hosting constituents (the Map of InterrogatePartners). */
  partners: { callId: string; tgi: SipUri; partner: SystemDomain; groups: SipUri[] }[];
}

export const resolveTemporaryGroup = async (
  input: ResolveInput,
  deps: Pick<AppDeps, 'store' | 'now' | 'system'>,
): Promise<ResolvedTemporaryGroup> => {
  const now = deps.now();
  const tg = await callableGroup(deps.store, input.tgi, now);
  if (tg?.status !== 'active') throw notFound(`no active temporary group or group ${input.tgi}`);
  const local = tg.constituents.filter((c) => c.system === deps.system).map((c) => c.groupId);
  const byMember = new Map<SipUri, ResolvedMember>();
  for (const groupId of local) {
    const [members, affiliations] = await Promise.all([
      deps.store.listMembers(groupId),
      deps.store.affiliationsToGroup(groupId, now),
    ]);
    const affiliated = new Set(affiliations.map((a) => a.mcpttId));
    for (const m of members) {
      if (!affiliated.has(m.mcpttId)) continue;
      const seen = byMember.get(m.mcpttId);
      // A member of several constituents is invited once; required if any of its groups says so.
      if (seen) seen.required ||= m.required;
      else
        byMember.set(m.mcpttId, { mcpttId: m.mcpttId, system: deps.system, required: m.required, groupId });
    }
  }
  const partnerGroups = new Map<SystemDomain, SipUri[]>();
  for (const c of tg.constituents) {
    if (c.system === deps.system) continue;
    partnerGroups.set(c.system, [...(partnerGroups.get(c.system) ?? []), c.groupId]);
  }
  return {
    callId: input.callId,
    tgi: tg.tgi,
    policy: tg.policy,
    acknowledgementTimeoutSeconds: Math.max(1, Math.ceil(tg.policy.acknowledgementTimeoutMs / 1000)),
    localMembers: [...byMember.values()],
    partners: [...partnerGroups.entries()].map(([partner, groups]) => ({
      callId: input.callId,
      tgi: tg.tgi,
      partner,
      groups,
    })),
  };
};
