import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALL_POLICY_LIMITS,
  callPolicySchema,
  clampCallPolicy,
  DEFAULT_CALL_POLICY,
  mergeCallPolicies,
  type NumericCallPolicyField,
  parseCallPolicyPatch,
  resolveCallPolicy,
} from '#core/call-policy.ts';
import { DomainError } from '#core/errors.ts';
import type { CallPolicy } from '#core/model.ts';

const FIELDS = Object.keys(CALL_POLICY_LIMITS) as NumericCallPolicyField[];
const within = (f: NumericCallPolicyField) => fc.integer(CALL_POLICY_LIMITS[f]);

const policyArb: fc.Arbitrary<CallPolicy> = fc.record({
  minimumNumberToStart: within('minimumNumberToStart'),
  acknowledgementTimeoutMs: within('acknowledgementTimeoutMs'),
  actionOnExpiry: fc.constantFrom('proceed' as const, 'abandon' as const),
  hangTimerMs: within('hangTimerMs'),
  maximumDurationMs: within('maximumDurationMs'),
  priority: within('priority'),
});
const partialArb: fc.Arbitrary<Partial<CallPolicy>> = fc.record(
  {
    minimumNumberToStart: within('minimumNumberToStart'),
    acknowledgementTimeoutMs: within('acknowledgementTimeoutMs'),
    actionOnExpiry: fc.constantFrom('proceed' as const, 'abandon' as const),
    hangTimerMs: within('hangTimerMs'),
    maximumDurationMs: within('maximumDurationMs'),
    priority: within('priority'),
  },
  { requiredKeys: [] },
);

const inLimits = (p: CallPolicy): boolean =>
  FIELDS.every(
    (f) => Number.isInteger(p[f]) && p[f] >= CALL_POLICY_LIMITS[f].min && p[f] <= CALL_POLICY_LIMITS[f].max,
  ) &&
  (p.actionOnExpiry === 'proceed' || p.actionOnExpiry === 'abandon');

describe('Function: DEFAULT_CALL_POLICY', () => {
  it('has the documented values and lies within the limits', () => {
    // Arrange / Act / Assess
    expect(DEFAULT_CALL_POLICY).toEqual({
      minimumNumberToStart: 1,
      acknowledgementTimeoutMs: 5000,
      actionOnExpiry: 'proceed',
      hangTimerMs: 10000,
      maximumDurationMs: 300000,
      priority: 5,
    });
    expect(inLimits(DEFAULT_CALL_POLICY)).toBe(true);
  });
});

describe('Function: callPolicySchema', () => {
  it('accepts an empty object and a full policy', () => {
    // Arrange / Act / Assess
    expect(callPolicySchema.safeParse({}).success).toBe(true);
    expect(callPolicySchema.safeParse(DEFAULT_CALL_POLICY).success).toBe(true);
  });

  it.each([
    [{ priority: 256 }],
    [{ priority: -1 }],
    [{ priority: 1.5 }],
    [{ priority: '5' }],
    [{ minimumNumberToStart: 0 }],
    [{ acknowledgementTimeoutMs: 99 }],
    [{ hangTimerMs: 600001 }],
    [{ maximumDurationMs: 999 }],
    [{ actionOnExpiry: 'retry' }],
    [{ colour: 'red' }],
  ])('rejects %j', (input) => {
    // Arrange: table row
    // Act
    const result = callPolicySchema.safeParse(input);
    // Assess
    expect(result.success).toBe(false);
  });

  it('accepts every partial policy within the limits (property)', () => {
    fc.assert(
      fc.property(partialArb, (p) => {
        // Arrange / Act
        const result = callPolicySchema.safeParse(p);
        // Assess
        expect(result.success).toBe(true);
      }),
    );
  });
});

describe('Function: parseCallPolicyPatch', () => {
  it('throws bad_request naming the field and the problem', () => {
    // Arrange
    const input = { priority: 300, extra: 1 };
    // Act
    let caught: unknown;
    try {
      parseCallPolicyPatch(input);
    } catch (e) {
      caught = e;
    }
    // Assess
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).code).toBe('bad_request');
    expect((caught as DomainError).message).toMatch(/^invalid call policy: /);
    expect((caught as DomainError).message).toContain('priority');
    expect((caught as DomainError).message).toContain('extra');
  });

  it('treats undefined as an empty patch and drops undefined fields', () => {
    // Arrange / Act / Assess
    expect(parseCallPolicyPatch(undefined)).toEqual({});
    expect(parseCallPolicyPatch({ priority: undefined, hangTimerMs: 0 })).toEqual({ hangTimerMs: 0 });
  });
});

describe('Function: resolveCallPolicy', () => {
  it('fills absent fields from the default', () => {
    // Arrange
    const partial = { priority: 200, actionOnExpiry: 'abandon' as const };
    // Act
    const policy = resolveCallPolicy(partial);
    // Assess
    expect(policy).toEqual({ ...DEFAULT_CALL_POLICY, priority: 200, actionOnExpiry: 'abandon' });
  });

  it('uses the given base', () => {
    // Arrange
    const base: CallPolicy = { ...DEFAULT_CALL_POLICY, hangTimerMs: 0 };
    // Act
    const policy = resolveCallPolicy({ priority: 1 }, base);
    // Assess
    expect(policy).toEqual({ ...base, priority: 1 });
  });

  it('returns the default (as a copy) without a partial', () => {
    // Arrange / Act
    const policy = resolveCallPolicy();
    // Assess
    expect(policy).toEqual(DEFAULT_CALL_POLICY);
    expect(policy).not.toBe(DEFAULT_CALL_POLICY);
  });

  it('rejects out-of-limit values', () => {
    // Arrange / Act / Assess
    expect(() => resolveCallPolicy({ priority: 1000 })).toThrow(/invalid call policy: priority/);
  });
});

describe('Function: clampCallPolicy', () => {
  it('clamps, rounds and repairs values', () => {
    // Arrange
    const wild = {
      minimumNumberToStart: 0,
      acknowledgementTimeoutMs: 1e9,
      actionOnExpiry: 'whatever',
      hangTimerMs: Number.NaN,
      maximumDurationMs: 1500.6,
      priority: -4,
    } as unknown as CallPolicy;
    // Act
    const clamped = clampCallPolicy(wild);
    // Assess
    expect(clamped).toEqual({
      minimumNumberToStart: 1,
      acknowledgementTimeoutMs: 120000,
      actionOnExpiry: 'proceed',
      hangTimerMs: DEFAULT_CALL_POLICY.hangTimerMs,
      maximumDurationMs: 1501,
      priority: 0,
    });
  });
});

describe('Function: mergeCallPolicies', () => {
  it('takes the maximum of every numeric field and abandon over proceed', () => {
    // Arrange
    const a: CallPolicy = {
      ...DEFAULT_CALL_POLICY,
      priority: 10,
      hangTimerMs: 1000,
      minimumNumberToStart: 3,
    };
    const b: CallPolicy = {
      ...DEFAULT_CALL_POLICY,
      priority: 7,
      hangTimerMs: 20000,
      actionOnExpiry: 'abandon',
      acknowledgementTimeoutMs: 8000,
      maximumDurationMs: 600000,
    };
    // Act
    const merged = mergeCallPolicies([a, b]);
    // Assess
    expect(merged).toEqual({
      minimumNumberToStart: 3,
      acknowledgementTimeoutMs: 8000,
      actionOnExpiry: 'abandon',
      hangTimerMs: 20000,
      maximumDurationMs: 600000,
      priority: 10,
    });
  });

  it('answers the default plus override for an empty list', () => {
    // Arrange / Act / Assess
    expect(mergeCallPolicies([])).toEqual(DEFAULT_CALL_POLICY);
    expect(mergeCallPolicies([], { priority: 9 })).toEqual({ ...DEFAULT_CALL_POLICY, priority: 9 });
  });

  it('rejects an invalid override', () => {
    // Arrange / Act / Assess
    expect(() => mergeCallPolicies([DEFAULT_CALL_POLICY], { priority: -1 })).toThrow(DomainError);
  });

  it('does not depend on the order of the policies (property)', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 8 }), fc.infiniteStream(fc.nat()), (ps, seeds) => {
        // Arrange
        const shuffled = ps
          .map((p) => ({ p, k: seeds.next().value }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.p);
        // Act / Assess
        expect(mergeCallPolicies(shuffled)).toEqual(mergeCallPolicies(ps));
        expect(mergeCallPolicies([...ps].reverse())).toEqual(mergeCallPolicies(ps));
      }),
    );
  });

  it('is idempotent: merge([p, p]) equals p (property)', () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        // Arrange / Act / Assess
        expect(mergeCallPolicies([p, p])).toEqual(p);
        expect(mergeCallPolicies([p])).toEqual(p);
      }),
    );
  });

  it('lets the override win (property)', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 5 }), partialArb, (ps, override) => {
        // Arrange / Act
        const merged = mergeCallPolicies(ps, override);
        // Assess
        for (const [k, v] of Object.entries(override)) expect(merged[k as keyof CallPolicy]).toBe(v);
      }),
    );
  });

  it('stays within the limits and is at least as high a priority as every input (property)', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 8 }), (ps) => {
        // Arrange / Act
        const merged = mergeCallPolicies(ps);
        // Assess
        expect(inLimits(merged)).toBe(true);
        for (const p of ps) {
          expect(merged.priority).toBeGreaterThanOrEqual(p.priority);
          expect(merged.hangTimerMs).toBeGreaterThanOrEqual(p.hangTimerMs);
        }
        expect(merged.actionOnExpiry === 'abandon').toBe(ps.some((p) => p.actionOnExpiry === 'abandon'));
      }),
    );
  });

  it('clamps out-of-limit inputs into the limits (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            minimumNumberToStart: fc.integer(),
            acknowledgementTimeoutMs: fc.integer(),
            actionOnExpiry: fc.constantFrom('proceed' as const, 'abandon' as const),
            hangTimerMs: fc.integer(),
            maximumDurationMs: fc.integer(),
            priority: fc.integer(),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (ps) => {
          // Arrange / Act
          const merged = mergeCallPolicies(ps);
          // Assess
          expect(inLimits(merged)).toBe(true);
        },
      ),
    );
  });
});
