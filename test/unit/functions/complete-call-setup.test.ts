import { describe, expect, it } from 'vitest';
import type { CallRecord, LegRecord } from '#adapters/dynamo/call-store.ts';
import type { LegEnding } from '#adapters/edge-control-client.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import { CALL_SETUP_RESULT_TYPE, parseCallSetupResultXml } from '#core/call-setup-result.ts';
import type { CallPolicy } from '#core/model.ts';
import {
  type CompleteCallSetupState,
  completeCallSetup,
  edgeSdpAnswer,
  failureStatusOf,
  type HeldFinal,
} from '#functions/workflow/complete-call-setup.ts';
import { parseMultipart } from '../../../sip/message/multipart.ts';

const TGI = 'sip:tg@primary.example';
const policyOf = (p: Partial<CallPolicy> = {}): CallPolicy => ({
  ...DEFAULT_CALL_POLICY,
  minimumNumberToStart: 1,
  ...p,
});

const leg = (
  i: number,
  state: LegRecord['state'],
  required = false,
  system = 'primary.example',
): LegRecord => ({
  callId: 'c-1',
  legId: `m${i}`,
  member: `sip:m${i}@${system}`,
  system,
  required,
  state,
  status: state === 'accepted' ? 200 : state === 'declined' ? 603 : state === 'failed' ? 408 : 0,
  reason: state === 'declined' ? 'Decline' : '',
});

const fakes = (opts: { call?: boolean; legs?: LegRecord[]; heldFails?: boolean; edgeUrl?: string } = {}) => {
  const call: CallRecord | undefined =
    opts.call === false
      ? undefined
      : {
          callId: 'c-1',
          sipCallId: 'c-1@sip',
          tgi: TGI,
          caller: 'sip:alice@primary.example',
          createdAt: 1_000,
          status: 'setting-up',
          ...(opts.edgeUrl ? { edgeUrl: opts.edgeUrl } : {}),
          counters: { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 },
        };
  const held: { callId: string; final: HeldFinal }[] = [];
  /** Each edge operation with the edge it went to (`default`: no URL given). */
  const edgeOps: string[] = [];
  const cancelled: string[] = [];
  const byes: string[] = [];
  const statuses: string[] = [];
  let claims = 0;
  const deps = {
    now: () => 1_850,
    calls: {
      readCall: async () => ({ call, legs: call ? (opts.legs ?? []) : [] }),
      setStatus: async (_: string, s: CallRecord['status']) => {
        statuses.push(s);
      },
      claimDecision: async () => {
        claims++;
        return claims === 1;
      },
    },
    edgeFor: (url?: string) => {
      const at = url ?? 'default';
      return {
        held: async (callId: string, final: HeldFinal) => {
          edgeOps.push(`held@${at}`);
          if (opts.heldFails) throw new Error('no such held INVITE');
          held.push({ callId, final });
        },
        endLegs: async (_: string, legs: readonly LegEnding[]) => {
          for (const { legId, action } of legs) {
            edgeOps.push(`${action} ${legId}@${at}`);
            (action === 'cancel' ? cancelled : byes).push(legId);
          }
          return { legs: legs.map((l) => ({ ...l, found: true, done: true })) };
        },
      };
    },
  };
  return { deps, held, cancelled, byes, statuses, edgeOps, claims: () => claims };
};

const proceedState = (p: Partial<CallPolicy> = {}, extra: Partial<CompleteCallSetupState> = {}) => ({
  callId: 'c-1',
  tgi: TGI,
  policy: { decision: 'proceed', acknowledgementTimeoutSeconds: 5, callPolicy: policyOf(p) },
  ...extra,
});

const warningOf = (f: HeldFinal) => f.headers?.find(([k]) => k === 'Warning')?.[1];

describe('completeCallSetup', () => {
  it('proceed: 200 with a multipart body (SDP answer + result), no Warning, legs kept, call established', async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending')] });
    const out = await completeCallSetup(proceedState(), f.deps);
    expect(out).toMatchObject({ status: 200, reason: 'OK', delivered: true });
    expect(out.warningCode).toBeUndefined();
    expect(out.result).toMatchObject({ callId: 'c-1', tgi: TGI, outcome: 'success', setupMs: 850 });
    const [sent] = f.held;
    expect(sent?.callId).toBe('c-1');
    const final = sent?.final as HeldFinal;
    expect(warningOf(final)).toBeUndefined();
    expect(final.headers?.some(([k]) => k.toLowerCase() === 'p-answer-state')).not.toBe(true);
    expect(final.body?.contentType).toMatch(/^multipart\/mixed;\s*boundary=/);
    const parts = parseMultipart(Buffer.from(final.body?.data ?? ''), final.body?.contentType ?? '');
    expect(parts.map((p) => p.headers[0]?.[1])).toEqual(['application/sdp', CALL_SETUP_RESULT_TYPE]);
    expect(parts[0]?.body.toString()).toBe(edgeSdpAnswer());
    expect(parts[0]?.body.toString()).toContain('m=application 9000 udp MCPTT');
    expect(parseCallSetupResultXml(parts[1]?.body.toString() ?? '')).toEqual(out.result);
    expect(f.cancelled).toEqual([]);
    expect(f.byes).toEqual([]);
    expect(f.statuses).toEqual(['established']);
    expect(f.claims()).toBe(1);
  });

  it('timer expired with a required member missing and action proceed: 200 with Warning 111', async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending', true)] });
    const out = await completeCallSetup(
      proceedState({ actionOnExpiry: 'proceed' }, { timerExpired: true }),
      f.deps,
    );
    expect(out).toMatchObject({ status: 200, warningCode: 111 });
    expect(warningOf(f.held[0]?.final as HeldFinal)).toBe(
      '399 primary.example "111 group call proceeded without all required group members"',
    );
    expect(out.result.warningCode).toBe(111);
  });

  it('timer expired with a required member missing and action abandon: 480 + 112, cancel pending, BYE answered', async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending', true), leg(2, 'declined')] });
    const out = await completeCallSetup(
      proceedState({ actionOnExpiry: 'abandon' }, { timerExpired: true }),
      f.deps,
    );
    expect(out).toMatchObject({ status: 480, reason: 'Temporarily Unavailable', warningCode: 112 });
    const final = f.held[0]?.final as HeldFinal;
    expect(warningOf(final)).toMatch(/^399 primary\.example "112 /);
    expect(final.body?.contentType).toBe(CALL_SETUP_RESULT_TYPE);
    expect(parseCallSetupResultXml(final.body?.data ?? '')).toMatchObject({
      outcome: 'failure',
      warningCode: 112,
    });
    expect(f.cancelled).toEqual(['m1']);
    expect(f.byes).toEqual(['m0']);
    expect(f.statuses).toEqual(['failed']);
  });

  it('no leg pending counts as final even without the timer', async () => {
    const f = fakes({ legs: [leg(0, 'declined'), leg(1, 'failed')] });
    const out = await completeCallSetup(proceedState(), f.deps);
    expect(out).toMatchObject({ status: 480 });
    expect(out.warningCode).toBeUndefined();
    expect(out.result.members.map((m) => m.state)).toEqual(['declined', 'failed']);
  });

  it('a decision still "wait" on the stored legs is taken as final', async () => {
    const f = fakes({ legs: [leg(0, 'pending'), leg(1, 'pending')] });
    const out = await completeCallSetup(proceedState(), f.deps);
    expect(out.status).toBe(480);
    expect(f.cancelled).toEqual(['m0', 'm1']);
  });

  it('reject (nobody to invite): 480 with the result, partners unavailable listed', async () => {
    const f = fakes({ call: false });
    const out = await completeCallSetup(
      {
        callId: 'c-1',
        tgi: TGI,
        receivedAt: 1_800,
        policy: { decision: 'reject', reason: 'no affiliated member to invite', callPolicy: policyOf() },
        interrogations: [
          { partner: 'b.example', unavailable: true, reason: { Error: 'States.Timeout', Cause: '' } },
          {
            partner: 'c.example',
            unavailable: true,
            reason: { Error: 'PartnerRefused', Cause: 'no agreement' },
          },
        ],
      },
      f.deps,
    );
    expect(out).toMatchObject({ status: 480, delivered: true });
    expect(out.result).toMatchObject({
      outcome: 'failure',
      setupMs: 50,
      systems: [
        { system: 'b.example', invited: 0, unavailable: { reason: 'States.Timeout' } },
        { system: 'c.example', invited: 0, unavailable: { reason: 'no agreement' } },
      ],
      members: [],
    });
    expect(warningOf(f.held[0]?.final as HeldFinal)).toBeUndefined();
    expect(f.statuses).toEqual([]);
  });

  it('failure: 503 for availability errors, 500 otherwise; legs torn down', async () => {
    expect(failureStatusOf({ Error: 'States.Timeout' })).toBe(503);
    expect(failureStatusOf({ Error: 'Lambda.TooManyRequestsException' })).toBe(503);
    expect(failureStatusOf({ Error: 'Error', Cause: 'boom' })).toBe(500);
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending')] });
    const out = await completeCallSetup(
      { ...proceedState(), failure: { Error: 'Error', Cause: 'edge answered 500' } },
      f.deps,
    );
    expect(out).toMatchObject({ status: 500, reason: 'Server Internal Error', delivered: true });
    expect(out.result.outcome).toBe('failure');
    expect(f.held[0]?.final.status).toBe(500);
    expect(f.cancelled).toEqual(['m1']);
    expect(f.byes).toEqual(['m0']);
    expect(f.statuses).toEqual(['failed']);
  });

  it('failure before ApplyCommencementPolicy (raw call policy at $.policy, no call yet)', async () => {
    const f = fakes({ call: false });
    const out = await completeCallSetup(
      { callId: 'c-1', tgi: TGI, policy: policyOf(), failure: { Error: 'PartnerUnavailable', Cause: 'x' } },
      f.deps,
    );
    expect(out.status).toBe(503);
    expect(f.held[0]?.final.reason).toBe('Service Unavailable');
  });

  it('a proceed the edge cannot deliver is torn down and the call cancelled', async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending')], heldFails: true });
    const out = await completeCallSetup(proceedState(), f.deps);
    expect(out).toMatchObject({ status: 200, delivered: false });
    expect(f.byes).toEqual(['m0']);
    expect(f.cancelled).toEqual(['m1']);
    // Established before the 200 was handed to the edge, cancelled when it could not be delivered.
    expect(f.statuses).toEqual(['established', 'cancelled']);
  });

  it('establishes the call before the initiator can see its 200 (a BYE may follow at once)', async () => {
    const f = fakes({ legs: [leg(0, 'accepted')] });
    const edgeFor = f.deps.edgeFor;
    let statusesAtHeld: string[] = [];
    f.deps.edgeFor = (url?: string) => {
      const edge = edgeFor(url);
      return {
        ...edge,
        held: async (callId: string, final: HeldFinal) => {
          statusesAtHeld = [...f.statuses];
          await edge.held(callId, final);
        },
      };
    };
    const out = await completeCallSetup(proceedState(), f.deps);
    expect(out).toMatchObject({ status: 200, delivered: true });
    expect(statusesAtHeld).toEqual(['established']);
    expect(f.statuses).toEqual(['established']);
  });

  it("answers the held INVITE and ends the legs at the call's edge task: the state's edgeUrl", async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'pending')], heldFails: true });
    await completeCallSetup(proceedState({}, { edgeUrl: 'http://10.0.1.7:8061' }), f.deps);
    expect(f.edgeOps).toEqual([
      'held@http://10.0.1.7:8061',
      'bye m0@http://10.0.1.7:8061',
      'cancel m1@http://10.0.1.7:8061',
    ]);
  });

  it("… or the call record's edgeUrl when the state has none (a failure before ResolveTemporaryGroup's result)", async () => {
    const f = fakes({ legs: [leg(0, 'accepted')], edgeUrl: 'http://10.0.2.9:8061' });
    const out = await completeCallSetup(
      { ...proceedState(), failure: { Error: 'States.Timeout', Cause: 'x' } },
      f.deps,
    );
    expect(out.status).toBe(503);
    expect(f.edgeOps).toEqual(['held@http://10.0.2.9:8061', 'bye m0@http://10.0.2.9:8061']);
  });

  it('… or the default edge for a call that names none', async () => {
    const f = fakes({ legs: [leg(0, 'accepted')] });
    await completeCallSetup(proceedState(), f.deps);
    expect(f.edgeOps).toEqual(['held@default']);
  });

  it('uses the call record policy when the state has none', async () => {
    const f = fakes({ legs: [leg(0, 'accepted'), leg(1, 'accepted')] });
    const out = await completeCallSetup({ callId: 'c-1', tgi: TGI }, f.deps);
    expect(out.status).toBe(200);
    expect(out.result.systems).toEqual([
      { system: 'primary.example', invited: 2, accepted: 2, declined: 0, failed: 0 },
    ]);
  });
});
