/**
 * Workflow steps InviteMembers + AwaitResponses (ARCHITECTURE.md steps 5–6; TS 23.379 step 5): one
 * leg per affiliated member of every constituent group, stored before any INVITE leaves, the task
 * token stored with the call, then one batch to the edge. Members of our system are invited at
 * their most recent registration; partner members through the partner's edge, each leg signed with
 * the agreement key (core/partner-leg.ts). A member with no registration is recorded as failed.
 * The batch goes to the edge task that holds the initiator's INVITE (`$.edgeUrl`), so the legs live
 * where the call's final response, and later their CANCEL or BYE, are sent.
 * The workflow resumes when the member-response function sees the commencement decision.
 */
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import type { Store } from '#adapters/dynamo/store.ts';
import type { OriginateRequest } from '#adapters/edge-control-client.ts';
import type { MetricsSink } from '#adapters/metrics.ts';
import type { WorkflowClient } from '#adapters/workflow-client.ts';
import { buildMcpttInfo } from '#core/mcptt-info.ts';
import type { EpochMs, SipUri, SystemDomain } from '#core/model.ts';
import { CALL_HEADER, legSignatureParts, TGI_HEADER } from '#core/partner-leg.ts';
import { signRequest } from '#core/request-signing.ts';
import { recordLegOutcomes } from './member-response.ts';
import type { ResolvedMember, ResolvedTemporaryGroup } from './resolve-temporary-group.ts';

/** What InterrogatePartners leaves per partner (answered, or caught as unavailable). */
export type Interrogation =
  | {
      partner: SystemDomain;
      answer: {
        partner: SystemDomain;
        groups: { groupId: SipUri; members: { mcpttId: SipUri; required: boolean }[] }[];
      };
    }
  | { partner: SystemDomain; unavailable: true; reason?: unknown };

export interface InviteState extends ResolvedTemporaryGroup {
  caller: SipUri;
  interrogations?: Interrogation[];
  /** The control API of the edge task holding the call (from the execution input); absent: the default edge. */
  edgeUrl?: string;
}

export interface InviteDeps {
  system: SystemDomain;
  store: Pick<Store, 'registrationsOf' | 'getAgreement'>;
  calls: Pick<CallStore, 'addLegs' | 'setTaskToken' | 'recordResponses' | 'claimDecision'>;
  /** Completes the wait when the legs that could not be sent decide the commencement by themselves. */
  workflow: Pick<WorkflowClient, 'taskSucceeded'>;
  /** Sends the batch to the edge task at `edgeUrl` (the call's), or to the default edge without one. */
  originate(req: OriginateRequest, edgeUrl: string | undefined): Promise<unknown>;
  /** Where the edge reports each leg's final response (the member-response function). */
  reportUrl: string;
  now: () => EpochMs;
  /** MemberResponses of the legs that could not be sent. */
  metrics?: Pick<MetricsSink, 'add'>;
}

/** The SDP offer of the group call: the MCPTT floor control stream (TS 24.380). */
export const groupCallSdp = (host = '127.0.0.1', port = 40_000): string =>
  [
    'v=0',
    `o=mcptt 1 1 IN IP4 ${host}`,
    's=MCPTT group call',
    `c=IN IP4 ${host}`,
    't=0 0',
    `m=application ${port} udp MCPTT`,
    'a=fmtp:MCPTT mc_queueing;mc_priority=5',
    '',
  ].join('\r\n');

const legIdOf = (member: SipUri): string => member.replace(/^sip:/, '');

const NOT_REGISTERED = { status: 480, reason: 'not registered' } as const;

export const inviteMembers = async (taskToken: string, state: InviteState, deps: InviteDeps) => {
  const now = deps.now();
  const partnerMembers: (ResolvedMember & { partner: SystemDomain })[] = [];
  for (const i of state.interrogations ?? []) {
    if (!('answer' in i)) continue;
    for (const g of i.answer.groups) {
      for (const m of g.members) {
        partnerMembers.push({
          mcpttId: m.mcpttId,
          system: i.partner,
          required: m.required,
          groupId: g.groupId,
          partner: i.partner,
        });
      }
    }
  }
  // The initiator is in the call already: every other affiliated member is invited, once.
  const all = [...state.localMembers, ...partnerMembers].filter((m) => m.mcpttId !== state.caller);
  const unique = new Map(all.map((m) => [m.mcpttId, m]));
  const members = [...unique.values()];
  // Where each leg goes, looked up while the legs are being stored: the latest registration of each
  // of our members (all of them in one batch read), the agreement of each partner system (once per partner).
  const locals = members.filter((m) => m.system === deps.system).map((m) => m.mcpttId);
  const registrations = deps.store.registrationsOf(locals, now);
  const agreements = new Map<SystemDomain, ReturnType<InviteDeps['store']['getAgreement']>>();
  const agreementOf = (partner: SystemDomain) => {
    let a = agreements.get(partner);
    if (!a) {
      a = deps.store.getAgreement(partner);
      agreements.set(partner, a);
    }
    return a;
  };
  const routes = Promise.all(
    members.map(async (m) => {
      if (m.system === deps.system) {
        const bindings = (await registrations).get(m.mcpttId) ?? [];
        const latest = [...bindings].sort((a, b) => b.expiresAt - a.expiresAt)[0];
        return latest ? { member: m, contact: latest.contact } : { member: m, failure: NOT_REGISTERED };
      }
      const agreement = await agreementOf(m.system);
      return agreement
        ? { member: m, agreement }
        : { member: m, failure: { status: 403, reason: `no agreement with ${m.system}` } };
    }),
  );
  // 1. The legs and the task token are stored before any INVITE leaves (a response can never find no
  // leg, nor no token), while the routes are looked up: one round trip for the three.
  const [resolvedRoutes] = await Promise.all([
    routes,
    deps.calls.addLegs(
      state.callId,
      members.map((m) => ({
        legId: legIdOf(m.mcpttId),
        member: m.mcpttId,
        system: m.system,
        required: m.required,
      })),
    ),
    deps.calls.setTaskToken(state.callId, taskToken),
  ]);

  // 2. The legs, signed for partners.
  const legs: OriginateRequest['legs'] = [];
  const failed: { legId: string; status: number; reason: string }[] = [];
  for (const route of resolvedRoutes) {
    const m = route.member;
    const legId = legIdOf(m.mcpttId);
    if ('failure' in route && route.failure) {
      failed.push({ legId, ...route.failure });
    } else if ('contact' in route && route.contact) {
      legs.push({ legId, target: m.mcpttId, contact: route.contact });
    } else if ('agreement' in route && route.agreement) {
      const { agreement } = route;
      const signature = signRequest({
        ...legSignatureParts({ member: m.mcpttId, tgi: state.tgi, callId: state.callId }),
        sender: deps.system,
        target: agreement.partner,
        keyId: agreement.keyId,
        key: agreement.key,
        now,
      });
      legs.push({
        legId,
        target: m.mcpttId,
        nextHop: agreement.sipUri,
        headers: [...Object.entries(signature), [TGI_HEADER, state.tgi], [CALL_HEADER, state.callId]],
      });
    }
  }
  // 3. One batch to the edge.
  if (legs.length > 0) {
    await deps.originate(
      {
        callId: state.callId,
        from: state.tgi,
        reportUrl: deps.reportUrl,
        sdp: groupCallSdp(),
        mcpttInfo: buildMcpttInfo({
          sessionType: 'prearranged',
          requestUri: state.tgi,
          callingUserId: state.caller,
          callingGroupId: state.tgi,
        }),
        legs,
      },
      state.edgeUrl,
    );
  }
  // 4. The legs that could not be sent count as failed answers; they may decide the commencement
  // (nobody reachable, or a required member unreachable under `abandon`) without waiting for the timer.
  if (failed.length > 0) {
    await recordLegOutcomes(
      state.callId,
      failed.map((f) => ({ legId: f.legId, state: 'failed' as const, status: f.status, reason: f.reason })),
      deps,
    );
  }
  return { invited: legs.length, unreachable: unique.size - legs.length };
};
