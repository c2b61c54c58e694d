import { describe, expect, it } from 'vitest';
import type { OriginateRequest } from '#adapters/edge-control-client.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import type { PartnerAgreement, Registration } from '#core/model.ts';
import { legSignatureParts } from '#core/partner-leg.ts';
import { verifySignedRequest } from '#core/request-signing.ts';
import { type InviteState, inviteMembers } from '#functions/workflow/invite-members.ts';

const agreement: PartnerAgreement = {
  partner: 'partner.example',
  apiUrl: 'http://127.0.0.1:8070',
  sipUri: 'sip:127.0.0.1:5070',
  keyId: 'k1',
  key: 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0',
  sharedUserFields: [],
  regroupableGroups: '*',
};

const state: InviteState = {
  callId: 'call-1',
  tgi: 'sip:tg@primary.example',
  caller: 'sip:dispatcher@primary.example',
  policy: DEFAULT_CALL_POLICY,
  acknowledgementTimeoutSeconds: 5,
  localMembers: [
    {
      mcpttId: 'sip:alice@primary.example',
      system: 'primary.example',
      required: true,
      groupId: 'sip:fire-1@primary.example',
    },
    {
      mcpttId: 'sip:bob@primary.example',
      system: 'primary.example',
      required: false,
      groupId: 'sip:fire-1@primary.example',
    },
  ],
  partners: [],
  interrogations: [
    {
      partner: 'partner.example',
      answer: {
        partner: 'partner.example',
        groups: [
          {
            groupId: 'sip:ambulance-1@partner.example',
            members: [{ mcpttId: 'sip:carol@partner.example', required: true }],
          },
        ],
      },
    },
    { partner: 'down.example', unavailable: true, reason: { Error: 'States.Timeout' } },
  ],
};

const ZERO_COUNTERS = { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 };

describe('Function: inviteMembers', () => {
  it('stores legs and token before one batch: registered locals, signed partner legs, unregistered members failed', async () => {
    const events: string[] = [];
    const recorded: unknown[] = [];
    let batch: OriginateRequest | undefined;
    const lookups: (readonly string[])[] = [];
    const registrations: Record<string, Registration[]> = {
      'sip:alice@primary.example': [
        { mcpttId: 'sip:alice@primary.example', contact: 'sip:alice@127.0.0.1:6001', expiresAt: 1000 },
        { mcpttId: 'sip:alice@primary.example', contact: 'sip:alice@127.0.0.1:6002', expiresAt: 2000 },
      ],
    };
    const out = await inviteMembers('token-1', state, {
      system: 'primary.example',
      store: {
        // One batch for every local member; bob has no binding, so is left out of the answer.
        registrationsOf: async (ids) => {
          lookups.push(ids);
          return new Map(ids.flatMap((id) => (registrations[id] ? [[id, registrations[id]] as const] : [])));
        },
        getAgreement: async (p) => (p === 'partner.example' ? agreement : undefined),
      },
      calls: {
        addLegs: async (_c, legs) => {
          events.push(`legs:${legs.map((l) => l.legId).join(',')}`);
          return legs.length;
        },
        setTaskToken: async (_c, t) => {
          events.push(`token:${t}`);
        },
        recordResponses: async (_c, answers) => {
          for (const a of answers) recorded.push({ ...a });
          return { counted: [], counters: ZERO_COUNTERS, call: {} };
        },
        claimDecision: async () => {
          throw new Error('no decision expected');
        },
      },
      workflow: {
        taskSucceeded: async () => {
          throw new Error('no task success expected');
        },
      },
      originate: async (req) => {
        events.push('originate');
        batch = req;
      },
      reportUrl: 'http://127.0.0.1:8060/edge/leg-results',
      now: () => Date.now(),
    });
    expect(out).toEqual({ invited: 2, unreachable: 1 });
    expect(lookups).toEqual([['sip:alice@primary.example', 'sip:bob@primary.example']]);
    expect(events).toEqual([
      'legs:alice@primary.example,bob@primary.example,carol@partner.example',
      'token:token-1',
      'originate',
    ]);
    expect(recorded).toEqual([
      { legId: 'bob@primary.example', state: 'failed', status: 480, reason: 'not registered' },
    ]);
    expect(batch?.legs[0]).toEqual({
      legId: 'alice@primary.example',
      target: 'sip:alice@primary.example',
      contact: 'sip:alice@127.0.0.1:6002',
    });
    const carol = batch?.legs[1];
    expect(carol).toMatchObject({
      legId: 'carol@partner.example',
      target: 'sip:carol@partner.example',
      nextHop: 'sip:127.0.0.1:5070',
    });
    const headers = Object.fromEntries(carol?.headers ?? []);
    expect(headers['X-MCPTT-TGI']).toBe('sip:tg@primary.example');
    expect(headers['X-MCPTT-Call']).toBe('call-1');
    // The partner can verify the leg's signature (which covers the call) with its copy of the key.
    const verified = verifySignedRequest({
      ...legSignatureParts({
        member: 'sip:carol@partner.example',
        tgi: 'sip:tg@primary.example',
        callId: 'call-1',
      }),
      target: 'partner.example',
      headers,
      now: Date.now(),
      lookupKey: () => agreement.key,
    });
    expect(verified.sender).toBe('primary.example');
    expect(batch?.mcpttInfo).toContain('<session-type>prearranged</session-type>');
    expect(batch?.sdp).toContain('m=application 40000 udp MCPTT');
  });

  it('completes the wait at once when no member can be reached (no INVITE, no timer)', async () => {
    const succeeded: unknown[] = [];
    let originated = false;
    let lost = 0;
    const out = await inviteMembers(
      'token-2',
      { ...state, interrogations: [] },
      {
        system: 'primary.example',
        store: {
          registrationsOf: async (ids) => new Map(ids.map((id) => [id, []])),
          getAgreement: async () => undefined,
        },
        calls: {
          addLegs: async (_c, legs) => legs.length,
          setTaskToken: async () => undefined,
          recordResponses: async (_c, answers) => {
            lost += answers.length;
            return {
              counted: answers.map((a, i) => ({ legId: a.legId, required: i === 0 })),
              counters: { total: 2, required: 1, accepted: 0, requiredAccepted: 0, lost, requiredLost: 1 },
              call: { policy: DEFAULT_CALL_POLICY, taskToken: 'token-2' },
            };
          },
          claimDecision: async () => succeeded.length === 0,
        },
        workflow: {
          taskSucceeded: async (token, output) => {
            succeeded.push({ token, output });
          },
        },
        originate: async () => {
          originated = true;
        },
        reportUrl: 'http://127.0.0.1:8060/edge/leg-results',
        now: () => Date.now(),
      },
    );
    expect(out).toEqual({ invited: 0, unreachable: 2 });
    expect(originated).toBe(false);
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]).toMatchObject({ token: 'token-2', output: { decision: { decision: 'abandon' } } });
  });

  it("sends the batch to the call's edge task (the state's edgeUrl), or to the default edge without one", async () => {
    const sentTo: (string | undefined)[] = [];
    const deps = {
      system: 'primary.example',
      store: {
        registrationsOf: async (ids: readonly string[]) =>
          new Map(
            ids.map((id) => [
              id,
              [{ mcpttId: id, contact: 'sip:member@127.0.0.1:6001', expiresAt: Date.now() + 60_000 }],
            ]),
          ),
        getAgreement: async () => agreement,
      },
      calls: {
        addLegs: async (_c: string, legs: unknown[]) => legs.length,
        setTaskToken: async () => undefined,
        recordResponses: async () => ({ counted: [], counters: ZERO_COUNTERS, call: {} }),
        claimDecision: async () => false,
      },
      workflow: { taskSucceeded: async () => undefined },
      originate: async (_req: OriginateRequest, edgeUrl: string | undefined) => {
        sentTo.push(edgeUrl);
      },
      reportUrl: 'http://127.0.0.1:8060/edge/leg-results',
      now: () => Date.now(),
    };
    await inviteMembers('token-3', { ...state, edgeUrl: 'http://10.0.1.7:8061' }, deps);
    await inviteMembers('token-4', state, deps);
    expect(sentTo).toEqual(['http://10.0.1.7:8061', undefined]);
  });
});
