/**
 * What the use cases emit through their metrics sink (lib/metric-names.ts): calls started, succeeded and
 * failed by reason, call setup latency, partner interrogation latency and failures, member responses by
 * class. A fake sink records the events; the EMF rendering is adapters/metrics.ts's (its own test).
 */
import { describe, expect, it, vi } from 'vitest';
import type { CallRecord, LegRecord } from '#adapters/dynamo/call-store.ts';
import type { PartnerClient, PartnerResponse } from '#adapters/partner-client.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import type { PartnerAgreement, TemporaryGroup } from '#core/model.ts';
import { cancelGroupCall } from '#functions/call-routing/cancel-group-call.ts';
import { startGroupCall } from '#functions/call-routing/start-group-call.ts';
import {
  type InterrogationTask,
  interrogatePartner,
} from '#functions/partner-interrogator/interrogate-partner.ts';
import { type CompleteCallSetupState, completeCallSetup } from '#functions/workflow/complete-call-setup.ts';
import { recordLegOutcome, responseClassOf } from '#functions/workflow/member-response.ts';
import { fakeMetrics } from '../../support/fake-metrics.ts';

const TGI = 'sip:tg@primary.example';
const ALICE = 'sip:alice@primary.example';

describe('Metrics: calls started and refused (call-routing)', () => {
  const tg: TemporaryGroup = {
    tgi: TGI,
    displayName: 'TG',
    constituents: [{ groupId: 'sip:fire-1@primary.example', system: 'primary.example' }],
    creator: 'sip:dispatcher@primary.example',
    policy: DEFAULT_CALL_POLICY,
    status: 'active',
    createdAt: 1,
  };
  const setUp = (affiliated: boolean) => {
    const metrics = fakeMetrics();
    const claimed = new Set<string>();
    const now = Date.now();
    const deps = {
      store: {
        getTemporaryGroup: async () => tg,
        groupsOfUser: async () => ['sip:fire-1@primary.example'],
        affiliationsOfUser: async () =>
          affiliated
            ? [
                {
                  mcpttId: ALICE,
                  groupId: 'sip:fire-1@primary.example',
                  clientId: 'c',
                  expiresAt: now + 60_000,
                },
              ]
            : [],
      },
      calls: {
        claimSipCallId: async (sip: string, callId: string) => {
          const created = !claimed.has(sip);
          claimed.add(sip);
          return { callId, created };
        },
        createCall: async () => undefined,
      },
      startExecution: async () => undefined,
      now: () => now,
      holdTimeoutMs: 30_000,
      metrics,
    };
    return { deps, metrics };
  };
  const call = { caller: ALICE, tgi: TGI, sipCallId: 'abc@client' };

  it('CallsStarted once per started workflow; a retransmitted INVITE (same Call-ID) starts nothing', async () => {
    const { deps, metrics } = setUp(true);
    expect(await startGroupCall(call, deps)).toMatchObject({ action: 'hold' });
    expect(await startGroupCall(call, deps)).toMatchObject({ action: 'reject', status: 491 });
    expect(metrics.events).toEqual([{ name: 'CallsStarted' }]);
  });

  it('CallsFailed (refused) for a caller who may not call the group, and no CallsStarted', async () => {
    const { deps, metrics } = setUp(false);
    expect(await startGroupCall(call, deps)).toMatchObject({ action: 'reject', status: 403 });
    expect(metrics.events).toEqual([{ name: 'CallsFailed', reason: 'refused' }]);
  });

  it('CallsFailed (cancelled) when the caller cancels before the decision; nothing after it', async () => {
    const metrics = fakeMetrics();
    let decided = false;
    const deps = {
      calls: {
        claimDecision: async () => {
          const first = !decided;
          decided = true;
          return first;
        },
        setStatus: async () => undefined,
        readCall: async () => ({ call: undefined, legs: [] }),
      },
      workflow: { stopExecution: async () => undefined },
      stateMachineArn: 'arn:aws:states:local:0:stateMachine:m',
      edgeFor: () => undefined,
      metrics,
    };
    expect(await cancelGroupCall('c-1', deps)).toEqual({ cancelled: true });
    expect(await cancelGroupCall('c-1', deps)).toEqual({ cancelled: false });
    expect(metrics.events).toEqual([{ name: 'CallsFailed', reason: 'cancelled' }]);
  });
});

describe('Metrics: call setup outcome and latency (CompleteCallSetup)', () => {
  const leg = (i: number, state: LegRecord['state']): LegRecord => ({
    callId: 'c-1',
    legId: `m${i}`,
    member: `sip:m${i}@primary.example`,
    system: 'primary.example',
    required: false,
    state,
    status: state === 'accepted' ? 200 : 0,
    reason: '',
  });
  const setUp = (opts: { legs: LegRecord[]; status?: CallRecord['status']; heldFails?: boolean }) => {
    const metrics = fakeMetrics();
    const call: CallRecord = {
      callId: 'c-1',
      sipCallId: 'c-1@sip',
      tgi: TGI,
      caller: ALICE,
      createdAt: 1_000,
      status: opts.status ?? 'setting-up',
      counters: { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 },
    };
    const deps = {
      now: () => 1_240,
      calls: {
        readCall: async () => ({ call, legs: opts.legs }),
        setStatus: async () => undefined,
        claimDecision: async () => true,
      },
      edgeFor: () => ({
        held: async () => {
          if (opts.heldFails) throw new Error('gone');
        },
        endLegs: async () => ({ legs: [] }),
      }),
      metrics,
    };
    return { deps, metrics };
  };
  const state = (extra: Partial<CompleteCallSetupState> = {}): CompleteCallSetupState => ({
    callId: 'c-1',
    tgi: TGI,
    policy: {
      decision: 'proceed',
      acknowledgementTimeoutSeconds: 5,
      callPolicy: { ...DEFAULT_CALL_POLICY, minimumNumberToStart: 1 },
    },
    ...extra,
  });

  it('200 delivered: CallsSucceeded and CallSetupLatency from the call record to the final response', async () => {
    const { deps, metrics } = setUp({ legs: [leg(0, 'accepted'), leg(1, 'pending')] });
    expect((await completeCallSetup(state(), deps)).status).toBe(200);
    expect(metrics.events).toEqual([{ name: 'CallSetupLatency', value: 240 }, { name: 'CallsSucceeded' }]);
  });

  it('abandoned (nobody accepted before the timer): CallsFailed abandoned, latency still measured', async () => {
    const { deps, metrics } = setUp({ legs: [leg(0, 'pending')] });
    expect((await completeCallSetup(state({ timerExpired: true }), deps)).status).toBe(480);
    expect(metrics.events).toEqual([
      { name: 'CallSetupLatency', value: 240 },
      { name: 'CallsFailed', reason: 'abandoned' },
    ]);
  });

  it('nobody to invite (policy reject): CallsFailed abandoned', async () => {
    const { deps, metrics } = setUp({ legs: [] });
    await completeCallSetup(state({ policy: { decision: 'reject', reason: 'nobody to invite' } }), deps);
    expect(metrics.total('CallsFailed', 'abandoned')).toBe(1);
  });

  it('a failed workflow, or a 200 the edge could not deliver: CallsFailed error', async () => {
    const failed = setUp({ legs: [] });
    await completeCallSetup(state({ failure: { Error: 'States.Timeout', Cause: 'x' } }), failed.deps);
    expect(failed.metrics.total('CallsFailed', 'error')).toBe(1);
    const lost = setUp({ legs: [leg(0, 'accepted')], heldFails: true });
    await completeCallSetup(state(), lost.deps);
    expect(lost.metrics.total('CallsFailed', 'error')).toBe(1);
    expect(lost.metrics.total('CallsSucceeded')).toBe(0);
  });

  it('a call the caller cancelled emits nothing here (call-routing counted it)', async () => {
    const { deps, metrics } = setUp({ legs: [leg(0, 'pending')], status: 'cancelled' });
    await completeCallSetup(state(), deps);
    expect(metrics.events).toEqual([]);
  });
});

describe('Metrics: partner interrogation (partner-interrogator)', () => {
  const agreement: PartnerAgreement = {
    partner: 'partner.example',
    apiUrl: 'http://127.0.0.1:1',
    sipUri: 'sip:127.0.0.1:5070',
    keyId: 'k',
    key: 'A'.repeat(43),
    sharedUserFields: [],
    regroupableGroups: '*',
  };
  const task: InterrogationTask = {
    taskToken: 't',
    callId: 'c-1',
    tgi: TGI,
    partner: 'partner.example',
    groups: ['sip:ambulance-1@partner.example'],
  };
  const setUp = (answers: (PartnerResponse | Error)[], withAgreement = true) => {
    const metrics = fakeMetrics();
    let t = 0;
    const send = vi.fn(async () => {
      t += 35;
      const a = answers.shift();
      if (!a || a instanceof Error) throw a ?? new Error('no answer');
      return a;
    });
    const deps = {
      partners: { send } as PartnerClient,
      workflow: { taskSucceeded: vi.fn(async () => undefined), taskFailed: vi.fn(async () => undefined) },
      agreement: async () => (withAgreement ? agreement : undefined),
      metrics,
      clock: () => t,
    };
    return { deps, metrics };
  };

  it('an answer: one latency value per round trip, no failure', async () => {
    const { deps, metrics } = setUp([{ status: 200, body: { tgi: TGI, groups: [] } }]);
    await interrogatePartner(task, deps);
    expect(metrics.events).toEqual([{ name: 'PartnerInterrogationLatency', value: 35 }]);
  });

  it('no answer after the retry: two round trips measured, one failure', async () => {
    const { deps, metrics } = setUp([new Error('ECONNREFUSED'), { status: 503, body: {} }]);
    await interrogatePartner(task, deps);
    expect(metrics.events).toEqual([
      { name: 'PartnerInterrogationLatency', value: 35 },
      { name: 'PartnerInterrogationLatency', value: 35 },
      { name: 'PartnerInterrogationFailures' },
    ]);
  });

  it('a refusal (4xx) is an answer, not a failure; no agreement is a failure', async () => {
    const refused = setUp([{ status: 403, body: { message: 'not agreed' } }]);
    await interrogatePartner(task, refused.deps);
    expect(refused.metrics.total('PartnerInterrogationFailures')).toBe(0);
    const none = setUp([], false);
    await interrogatePartner(task, none.deps);
    expect(none.metrics.events).toEqual([{ name: 'PartnerInterrogationFailures' }]);
  });
});

const ZERO = { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 };

describe('Metrics: member responses by class (member-response, InviteMembers)', () => {
  const setUp = (opts: { duplicate?: boolean; decided?: boolean } = {}) => {
    const metrics = fakeMetrics();
    const deps = {
      calls: {
        recordResponses: async (_c: string, answers: readonly { legId: string }[]) =>
          opts.duplicate
            ? { counted: [], counters: ZERO, call: {} }
            : {
                counted: answers.map((a) => ({ legId: a.legId, required: false })),
                counters: {
                  total: 2,
                  required: 0,
                  accepted: 0,
                  requiredAccepted: 0,
                  lost: 0,
                  requiredLost: 0,
                },
                call: { decided: opts.decided ?? false },
              },
        claimDecision: async () => false,
      },
      workflow: { taskSucceeded: async () => undefined },
      metrics,
    };
    return { deps, metrics };
  };

  it('one MemberResponses per leg with the class of its final status', async () => {
    const { deps, metrics } = setUp();
    await recordLegOutcome('c-1', 'a', { state: 'accepted', status: 200 }, deps);
    await recordLegOutcome('c-1', 'b', { state: 'declined', status: 486 }, deps);
    await recordLegOutcome('c-1', 'c', { state: 'failed', status: 503 }, deps);
    await recordLegOutcome('c-1', 'd', { state: 'declined', status: 603 }, deps);
    await recordLegOutcome('c-1', 'e', { state: 'failed', status: 408 }, deps);
    expect(metrics.events).toEqual([
      { name: 'MemberResponses', class: '2xx' },
      { name: 'MemberResponses', class: '4xx' },
      { name: 'MemberResponses', class: '5xx' },
      { name: 'MemberResponses', class: '6xx' },
      { name: 'MemberResponses', class: 'timeout' },
    ]);
  });

  it('a duplicated report is not counted again', async () => {
    const { deps, metrics } = setUp({ duplicate: true });
    await recordLegOutcome('c-1', 'a', { state: 'accepted', status: 200 }, deps);
    expect(metrics.events).toEqual([]);
  });

  it('487 after the decision (a ringing leg cancelled at the end of the setup) is a timeout; before it, 4xx', async () => {
    const after = setUp({ decided: true });
    await recordLegOutcome('c-1', 'a', { state: 'declined', status: 487 }, after.deps);
    expect(after.metrics.events).toEqual([{ name: 'MemberResponses', class: 'timeout' }]);
    expect(responseClassOf(487, false)).toBe('4xx');
    expect(responseClassOf(302)).toBe('3xx');
  });
});
