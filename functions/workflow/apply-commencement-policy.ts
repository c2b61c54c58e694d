/**
 * Workflow step ApplyCommencementPolicy (ARCHITECTURE.md step 4; TS 23.379 step 5): after the partner
 * interrogations, decides whether there is anybody to invite. Its result replaces `$.policy`
 * (lib/call-setup-workflow.ts): `decision` drives the CommencementDecision Choice,
 * `acknowledgementTimeoutSeconds` is AwaitResponses' dynamic timeout (TNG1), and `callPolicy` keeps the
 * temporary group's policy for the later steps.
 *
 * The members to invite are the affiliated local members plus every member of every answered
 * interrogation (a partner marked unavailable contributes nobody). Pure: no I/O.
 */
import type { CallPolicy, SipUri, SystemDomain } from '#core/model.ts';
import type { ResolvedMember } from './resolve-temporary-group.ts';

/** One answered partner interrogation (the Map item with the interrogator's answer at `answer`). */
export interface AnsweredInterrogation {
  partner?: SystemDomain;
  answer: {
    partner?: SystemDomain;
    tgi?: SipUri;
    groups: { groupId: SipUri; members: { mcpttId: SipUri; required: boolean; displayName?: string }[] }[];
  };
}

/** A partner the workflow marked unavailable (PartnerUnavailable Pass). */
export interface UnavailableInterrogation {
  partner: SystemDomain;
  unavailable: true;
  reason?: { Error?: string; Cause?: string };
}

export type Interrogation = AnsweredInterrogation | UnavailableInterrogation;

/** The part of the workflow state ApplyCommencementPolicy reads. */
export interface CommencementPolicyInput {
  policy: CallPolicy;
  acknowledgementTimeoutSeconds: number;
  localMembers?: readonly Pick<ResolvedMember, 'mcpttId'>[];
  interrogations?: readonly Interrogation[];
}

/** What ApplyCommencementPolicy returns (stored at `$.policy`). */
export interface CommencementPolicyResult {
  decision: 'proceed' | 'reject';
  acknowledgementTimeoutSeconds: number;
  callPolicy: CallPolicy;
  /** Members that will be invited (local + answered partners). */
  invitees: number;
  /** Why the call is rejected (only with `reject`). */
  reason?: string;
}

export const NO_MEMBER_REASON = 'no affiliated member to invite';

const isAnswered = (i: Interrogation): i is AnsweredInterrogation =>
  typeof i === 'object' && i !== null && 'answer' in i && typeof i.answer === 'object' && i.answer !== null;

/** Members of the answered interrogations, in order (may repeat a member of several groups). */
export const partnerMembersOf = (
  interrogations: readonly Interrogation[] | undefined,
): { mcpttId: SipUri; required: boolean; system: SystemDomain | undefined; groupId: SipUri }[] =>
  (interrogations ?? []).filter(isAnswered).flatMap((i) =>
    (i.answer.groups ?? []).flatMap((g) =>
      (g.members ?? []).map((m) => ({
        mcpttId: m.mcpttId,
        required: m.required,
        system: i.answer.partner ?? i.partner,
        groupId: g.groupId,
      })),
    ),
  );

export const applyCommencementPolicy = (state: CommencementPolicyInput): CommencementPolicyResult => {
  const invitees = (state.localMembers?.length ?? 0) + partnerMembersOf(state.interrogations).length;
  const base = {
    acknowledgementTimeoutSeconds: state.acknowledgementTimeoutSeconds,
    callPolicy: state.policy,
    invitees,
  };
  return invitees === 0
    ? { decision: 'reject', ...base, reason: NO_MEMBER_REASON }
    : { decision: 'proceed', ...base };
};
