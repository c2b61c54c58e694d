import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import {
  applyCommencementPolicy,
  type CommencementPolicyInput,
  NO_MEMBER_REASON,
} from '#functions/workflow/apply-commencement-policy.ts';

const policy = { ...DEFAULT_CALL_POLICY };
const local = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    mcpttId: `sip:m${i}@primary.example`,
    system: 'primary.example',
    required: false,
    groupId: 'sip:g@primary.example',
  }));
const answered = (partner: string, ...groups: number[]) => ({
  callId: 'c-1',
  tgi: 'sip:tg@primary.example',
  partner,
  groups: groups.map((_, i) => `sip:g${i}@${partner}`),
  answer: {
    partner,
    tgi: 'sip:tg@primary.example',
    groups: groups.map((n, i) => ({
      groupId: `sip:g${i}@${partner}`,
      members: Array.from({ length: n }, (_, j) => ({
        mcpttId: `sip:p${i}-${j}@${partner}`,
        required: j === 0,
      })),
    })),
  },
});
const unavailable = (partner: string) => ({
  partner,
  unavailable: true as const,
  reason: { Error: 'States.Timeout', Cause: 'partner timeout' },
});

describe('applyCommencementPolicy', () => {
  it('proceeds with local members only, keeping the call policy and the timeout', () => {
    const state: CommencementPolicyInput = {
      policy,
      acknowledgementTimeoutSeconds: 7,
      localMembers: local(2),
    };
    expect(applyCommencementPolicy(state)).toEqual({
      decision: 'proceed',
      acknowledgementTimeoutSeconds: 7,
      callPolicy: policy,
      invitees: 2,
    });
  });

  it('counts every member of every answered interrogation, not the unavailable partners', () => {
    const out = applyCommencementPolicy({
      policy,
      acknowledgementTimeoutSeconds: 3,
      localMembers: local(1),
      interrogations: [answered('b.example', 2, 3), unavailable('c.example'), answered('d.example', 1)],
    });
    expect(out.decision).toBe('proceed');
    expect(out.invitees).toBe(7);
    expect(out.reason).toBeUndefined();
  });

  it('proceeds with partner members only', () => {
    const out = applyCommencementPolicy({
      policy,
      acknowledgementTimeoutSeconds: 3,
      localMembers: [],
      interrogations: [answered('b.example', 1)],
    });
    expect(out).toMatchObject({ decision: 'proceed', invitees: 1 });
  });

  it('rejects when nobody can be invited', () => {
    expect(
      applyCommencementPolicy({
        policy,
        acknowledgementTimeoutSeconds: 3,
        localMembers: [],
        interrogations: [unavailable('c.example'), answered('d.example', 0)],
      }),
    ).toEqual({
      decision: 'reject',
      acknowledgementTimeoutSeconds: 3,
      callPolicy: policy,
      invitees: 0,
      reason: NO_MEMBER_REASON,
    });
  });

  it('rejects a state without members or interrogations', () => {
    expect(applyCommencementPolicy({ policy, acknowledgementTimeoutSeconds: 1 })).toMatchObject({
      decision: 'reject',
      reason: 'no affiliated member to invite',
    });
  });
});
