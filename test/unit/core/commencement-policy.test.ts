import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import {
  type CommencementDecision,
  countLegs,
  effectiveMinimumNumberToStart,
  evaluateCommencement,
  type LegState,
  type LegView,
} from '#core/commencement-policy.ts';
import type { CallPolicy, ExpiryAction } from '#core/model.ts';

const policy = (minimumNumberToStart: number, actionOnExpiry: ExpiryAction = 'proceed'): CallPolicy => ({
  ...DEFAULT_CALL_POLICY,
  minimumNumberToStart,
  actionOnExpiry,
});

/** Legs from a compact spec: `A` accepted, `P` pending, `D` declined, `F` failed; lower case = required. */
const legs = (spec: string): LegView[] =>
  [...spec].map((ch, i) => {
    const state: LegState = ({ a: 'accepted', p: 'pending', d: 'declined', f: 'failed' } as const)[
      ch.toLowerCase() as 'a' | 'p' | 'd' | 'f'
    ];
    return {
      member: `sip:m${i}@${i % 2 === 0 ? 'primary' : 'partner'}.example`,
      system: i % 2 === 0 ? 'primary.example' : 'partner.example',
      required: ch === ch.toLowerCase(),
      state,
    };
  });

const evaluate = (
  min: number,
  action: ExpiryAction,
  spec: string,
  timerExpired = false,
): CommencementDecision => evaluateCommencement(policy(min, action), legs(spec), { timerExpired });

describe('Function: countLegs', () => {
  it('counts legs by state, overall and for required members', () => {
    // Arrange / Act
    const c = countLegs(legs('AaPpDdFf'));
    // Assess
    expect(c).toEqual({
      total: 8,
      accepted: 2,
      pending: 2,
      lost: 4,
      required: 4,
      requiredAccepted: 1,
      requiredPending: 1,
      requiredLost: 2,
    });
  });
});

describe('Function: effectiveMinimumNumberToStart', () => {
  it.each([
    [1, 1],
    [0, 0],
    [-3, 0],
    [2.2, 3],
    [Number.NaN, 1],
    [Number.POSITIVE_INFINITY, 1],
  ])('minimumNumberToStart %s applies as %s', (value, expected) => {
    // Arrange / Act / Assess
    expect(effectiveMinimumNumberToStart(policy(value))).toBe(expected);
  });
});

describe('Function: evaluateCommencement', () => {
  it('abandons with 480 and no Warning when there is no leg at all', () => {
    // Arrange / Act
    const d = evaluateCommencement(policy(1), [], { timerExpired: false });
    // Assess
    expect(d).toMatchObject({ decision: 'abandon', status: 480, warningCode: undefined });
  });

  it.each<
    [string, number, ExpiryAction, string, boolean, CommencementDecision['decision'], number | undefined]
  >([
    // label, minimum, action, legs, timer expired, decision, warning
    ['minimum reached, no required member', 1, 'proceed', 'AP', false, 'proceed', undefined],
    ['minimum not reached yet', 2, 'proceed', 'AP', false, 'wait', undefined],
    ['minimum reached when the last pending accepts', 2, 'proceed', 'AA', false, 'proceed', undefined],
    ['required member still pending', 1, 'proceed', 'Ap', false, 'wait', undefined],
    ['required member accepted', 1, 'abandon', 'Aa', false, 'proceed', undefined],
    ['required declined, action abandon: abandon now', 1, 'abandon', 'APd', false, 'abandon', 112],
    ['required failed, action abandon: abandon now', 1, 'abandon', 'APf', false, 'abandon', 112],
    [
      'required declined, action proceed, minimum reached: proceed now',
      1,
      'proceed',
      'APd',
      false,
      'proceed',
      111,
    ],
    [
      'required declined, action proceed, minimum not reached: wait',
      2,
      'proceed',
      'APd',
      false,
      'wait',
      undefined,
    ],
    ['minimum unreachable: abandon now', 3, 'proceed', 'APD', false, 'abandon', undefined],
    ['fewer legs than the minimum: abandon now', 3, 'proceed', 'PP', false, 'abandon', undefined],
    ['expiry, required missing, action proceed', 1, 'proceed', 'Ap', true, 'proceed', 111],
    ['expiry, required missing, action abandon', 1, 'abandon', 'Ap', true, 'abandon', 112],
    ['expiry, minimum not reached, no required', 2, 'proceed', 'AP', true, 'abandon', undefined],
    [
      'expiry, minimum not reached, required missing, action abandon',
      2,
      'abandon',
      'Pp',
      true,
      'abandon',
      112,
    ],
    [
      'expiry, minimum not reached, required missing, action proceed',
      2,
      'proceed',
      'Pp',
      true,
      'abandon',
      undefined,
    ],
    ['expiry, all conditions met', 1, 'abandon', 'aP', true, 'proceed', undefined],
    ['all answered, required declined, action proceed', 1, 'proceed', 'Ad', false, 'proceed', 111],
    ['all answered, minimum not reached', 2, 'proceed', 'AD', false, 'abandon', undefined],
    ['minimum 0 with a pending required member', 0, 'proceed', 'p', false, 'wait', undefined],
    ['minimum 0 and nobody required', 0, 'proceed', 'P', false, 'proceed', undefined],
  ])('%s', (_label, min, action, spec, expired, decision, warningCode) => {
    // Arrange / Act
    const d = evaluate(min, action, spec, expired);
    // Assess
    expect(d.decision).toBe(decision);
    if (d.decision === 'abandon') expect(d).toMatchObject({ status: 480, warningCode });
    if (d.decision === 'proceed') expect(d.warningCode).toBe(warningCode);
  });

  it('explains an abandon for the minimum with the counts', () => {
    // Arrange / Act
    const d = evaluate(3, 'proceed', 'APD');
    // Assess
    expect(d.decision === 'abandon' ? d.reason : '').toBe(
      'minimum number to start not reached: 1 accepted of 3 needed (1 pending, 1 declined or failed, 3 invited)',
    );
  });

  it('explains an abandon for required members', () => {
    // Arrange / Act
    const early = evaluate(1, 'abandon', 'APd');
    const late = evaluate(1, 'abandon', 'Ap', true);
    // Assess
    expect(early.decision === 'abandon' ? early.reason : '').toBe(
      '1 of 1 required member(s) declined or failed',
    );
    expect(late.decision === 'abandon' ? late.reason : '').toBe(
      '1 of 1 required member(s) did not accept in time',
    );
  });

  // ------------------------------------------------------------------------------------------
  // Properties

  const stateArb = fc.constantFrom<LegState>('pending', 'accepted', 'declined', 'failed');
  const legsArb = fc
    .array(fc.record({ required: fc.boolean(), state: stateArb }), { maxLength: 10 })
    .map((xs) =>
      xs.map(
        (x, i): LegView => ({
          member: `sip:m${i}@primary.example`,
          system: i % 3 === 0 ? 'partner.example' : 'primary.example',
          ...x,
        }),
      ),
    );
  const policyArb = fc
    .tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom<ExpiryAction>('proceed', 'abandon'))
    .map(([min, action]) => policy(min, action));

  /** The legs after one pending leg got a final answer. */
  const answerOne = (ls: LegView[], pick: number, state: LegState): LegView[] => {
    const pendings = ls.flatMap((l, i) => (l.state === 'pending' ? [i] : []));
    const at = pendings[pick % Math.max(1, pendings.length)];
    return at === undefined ? ls : ls.map((l, i) => (i === at ? { ...l, state } : l));
  };

  it('never turns proceed into wait or abandon when a pending member accepts (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, fc.boolean(), fc.nat(), (p, ls, expired, pick) => {
        // Arrange
        const before = evaluateCommencement(p, ls, { timerExpired: expired });
        fc.pre(before.decision === 'proceed');
        // Act
        const after = evaluateCommencement(p, answerOne(ls, pick, 'accepted'), { timerExpired: expired });
        // Assess
        expect(after.decision).toBe('proceed');
      }),
    );
  });

  it('keeps a proceed or abandon decided before expiry whatever answers and expiry come next (property)', () => {
    fc.assert(
      fc.property(
        policyArb,
        legsArb,
        fc.array(fc.tuple(fc.nat(), stateArb), { maxLength: 6 }),
        fc.boolean(),
        (p, ls, answers, expiresLater) => {
          // Arrange: an early decision (at expiry the decision ends the setup, later answers do not count)
          const before = evaluateCommencement(p, ls, { timerExpired: false });
          fc.pre(before.decision !== 'wait');
          let later = ls;
          for (const [pick, state] of answers) later = answerOne(later, pick, state);
          // Act
          const after = evaluateCommencement(p, later, { timerExpired: expiresLater });
          // Assess
          expect(after.decision).toBe(before.decision);
          // An abandon for required members stays one (an abandon for the minimum may later also miss them).
          if (before.decision === 'abandon' && before.warningCode === 112) {
            expect(after).toMatchObject({ warningCode: 112 });
          }
        },
      ),
    );
  });

  it('depends only on the counts: not on order, identities, systems, or declined versus failed (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, fc.boolean(), (p, ls, expired) => {
        // Arrange
        const disguised = [...ls].reverse().map(
          (l, i): LegView => ({
            member: `sip:other-${i}@elsewhere.example`,
            system: 'elsewhere.example',
            required: l.required,
            state: l.state === 'declined' ? 'failed' : l.state === 'failed' ? 'declined' : l.state,
          }),
        );
        // Act / Assess
        expect(evaluateCommencement(p, disguised, { timerExpired: expired })).toEqual(
          evaluateCommencement(p, ls, { timerExpired: expired }),
        );
      }),
    );
  });

  it('never waits once the timer expired or every leg answered (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, fc.boolean(), (p, ls, expired) => {
        // Arrange
        fc.pre(expired || ls.every((l) => l.state !== 'pending'));
        // Act / Assess
        expect(evaluateCommencement(p, ls, { timerExpired: expired }).decision).not.toBe('wait');
      }),
    );
  });

  it('proceeds without Warning exactly when the minimum is reached and every required member accepted (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, fc.boolean(), (p, ls, expired) => {
        // Arrange
        const c = countLegs(ls);
        const met = c.total > 0 && c.accepted >= p.minimumNumberToStart && c.requiredAccepted === c.required;
        // Act
        const d = evaluateCommencement(p, ls, { timerExpired: expired });
        // Assess
        expect(d.decision === 'proceed' && d.warningCode === undefined).toBe(met);
      }),
    );
  });

  it('uses Warning 111 only with action proceed and 112 only with action abandon, always with required members missing (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, fc.boolean(), (p, ls, expired) => {
        // Arrange
        const c = countLegs(ls);
        // Act
        const d = evaluateCommencement(p, ls, { timerExpired: expired });
        // Assess
        if (d.decision === 'wait') return;
        if (d.warningCode === 111) expect(p.actionOnExpiry).toBe('proceed');
        if (d.warningCode === 112) expect(p.actionOnExpiry).toBe('abandon');
        if (d.warningCode !== undefined) expect(c.requiredAccepted).toBeLessThan(c.required);
        if (d.decision === 'proceed') expect(c.accepted).toBeGreaterThanOrEqual(p.minimumNumberToStart);
        if (d.decision === 'abandon') expect(d.status).toBe(480);
      }),
    );
  });

  it('waits only while the outcome can still change (property)', () => {
    fc.assert(
      fc.property(policyArb, legsArb, (p, ls) => {
        // Arrange
        const d = evaluateCommencement(p, ls, { timerExpired: false });
        fc.pre(d.decision === 'wait');
        const allAccept = ls.map((l) => (l.state === 'pending' ? { ...l, state: 'accepted' as const } : l));
        const allDecline = ls.map((l) => (l.state === 'pending' ? { ...l, state: 'declined' as const } : l));
        // Act
        const best = evaluateCommencement(p, allAccept, { timerExpired: false });
        const worst = evaluateCommencement(p, allDecline, { timerExpired: false });
        // Assess: the pending answers decide between two different outcomes
        expect(best).not.toEqual(worst);
      }),
    );
  });
});
