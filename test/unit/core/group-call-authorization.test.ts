import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import { authorizeGroupCall, type GroupCallAuthorizationInput } from '#core/group-call-authorization.ts';
import type { TemporaryGroup, TemporaryGroupStatus } from '#core/model.ts';

const TGI = 'sip:tg-1@primary.example';
const FIRE = 'sip:fire-1@primary.example';
const AMBULANCE = 'sip:ambulance-1@primary.example';
const POLICE = 'sip:police-1@partner.example';
const OTHER = 'sip:other-1@primary.example';
const ALICE = 'sip:alice@primary.example';

const temporaryGroup = (status: TemporaryGroupStatus = 'active'): TemporaryGroup => ({
  tgi: TGI,
  displayName: 'Temporary group tg-1',
  constituents: [
    { groupId: FIRE, system: 'primary.example' },
    { groupId: AMBULANCE, system: 'primary.example' },
    { groupId: POLICE, system: 'partner.example' },
  ],
  creator: 'sip:carol@primary.example',
  policy: { ...DEFAULT_CALL_POLICY },
  status,
  createdAt: 0,
  ...(status === 'pending' ? { expiresAt: 60_000 } : {}),
  ...(status === 'cancelling' ? { pendingReleases: ['partner.example'] } : {}),
});

const input = (over: Partial<GroupCallAuthorizationInput> = {}): GroupCallAuthorizationInput => ({
  caller: ALICE,
  tgi: TGI,
  temporaryGroup: temporaryGroup(),
  callerGroups: [FIRE],
  callerAffiliations: [FIRE],
  ...over,
});

describe('Function: authorizeGroupCall', () => {
  it('authorizes an affiliated member of a constituent group, via that group', () => {
    // Arrange: alice is a member of fire-1 and affiliated to it
    // Act
    const result = authorizeGroupCall(input());
    // Assess
    expect(result).toEqual({ ok: true, viaGroup: FIRE });
  });

  it('answers 404 without Warning when the temporary group is unknown', () => {
    // Arrange
    const i = input({ temporaryGroup: undefined });
    // Act
    const result = authorizeGroupCall(i);
    // Assess
    expect(result).toMatchObject({ ok: false, status: 404 });
    expect(result).not.toHaveProperty('warningCode');
    expect(result.ok ? '' : result.reason).toContain(TGI);
  });

  it('answers 404 when the stored record is for another TGI', () => {
    // Arrange
    const i = input({ tgi: 'sip:tg-2@primary.example' });
    // Act / Assess
    expect(authorizeGroupCall(i)).toMatchObject({ ok: false, status: 404 });
  });

  it.each<TemporaryGroupStatus>(['pending', 'cancelling'])(
    'answers 404 without Warning for a temporary group in status %s',
    (status) => {
      // Arrange
      const i = input({ temporaryGroup: temporaryGroup(status) });
      // Act
      const result = authorizeGroupCall(i);
      // Assess
      expect(result).toMatchObject({ ok: false, status: 404 });
      expect(result).not.toHaveProperty('warningCode');
    },
  );

  it('says why a cancelling temporary group is refused', () => {
    // Arrange
    const i = input({ temporaryGroup: temporaryGroup('cancelling') });
    // Act
    const result = authorizeGroupCall(i);
    // Assess
    expect(result.ok ? '' : result.reason).toContain('being cancelled');
  });

  it('answers 403 with Warning 116 when the caller is a member of no constituent group', () => {
    // Arrange
    const i = input({ callerGroups: [OTHER], callerAffiliations: [OTHER] });
    // Act
    const result = authorizeGroupCall(i);
    // Assess
    expect(result).toMatchObject({ ok: false, status: 403, warningCode: 116 });
  });

  it('answers 403 with Warning 120 when the caller is a member but affiliated to no constituent', () => {
    // Arrange: member of fire-1, affiliated only to a group outside the temporary group
    const i = input({ callerGroups: [FIRE, OTHER], callerAffiliations: [OTHER] });
    // Act
    const result = authorizeGroupCall(i);
    // Assess
    expect(result).toMatchObject({ ok: false, status: 403, warningCode: 120 });
  });

  it('does not count an affiliation to a constituent the caller is not a member of', () => {
    // Arrange: member of fire-1 (not affiliated), affiliated to ambulance-1 (not a member)
    const i = input({ callerGroups: [FIRE], callerAffiliations: [AMBULANCE] });
    // Act
    const result = authorizeGroupCall(i);
    // Assess
    expect(result).toMatchObject({ ok: false, status: 403, warningCode: 120 });
  });

  it('answers 120 when the caller has no affiliation at all', () => {
    // Arrange
    const i = input({ callerAffiliations: [] });
    // Act / Assess
    expect(authorizeGroupCall(i)).toMatchObject({ ok: false, status: 403, warningCode: 120 });
  });

  it('picks the first constituent, in the temporary group order, that qualifies', () => {
    // Arrange: caller qualifies through ambulance-1 and fire-1, listed in the other order
    const i = input({ callerGroups: [AMBULANCE, FIRE], callerAffiliations: [AMBULANCE, FIRE] });
    // Act / Assess
    expect(authorizeGroupCall(i)).toEqual({ ok: true, viaGroup: FIRE });
  });

  it('does not exempt the creator of the temporary group', () => {
    // Arrange
    const i = input({ caller: 'sip:carol@primary.example', callerGroups: [], callerAffiliations: [] });
    // Act / Assess
    expect(authorizeGroupCall(i)).toMatchObject({ ok: false, status: 403, warningCode: 116 });
  });

  it('compares identities in their normal form', () => {
    // Arrange
    const i = input({
      tgi: 'SIP:tg-1@PRIMARY.example',
      callerGroups: ['fire-1@Primary.Example'],
      callerAffiliations: ['sip:fire-1@primary.EXAMPLE;transport=tcp'],
    });
    // Act / Assess
    expect(authorizeGroupCall(i)).toEqual({ ok: true, viaGroup: FIRE });
  });

  const GROUPS = [FIRE, AMBULANCE, POLICE, OTHER, 'sip:x-1@partner.example'];
  const subset = fc.subarray(GROUPS);

  it('is ok exactly when some constituent is both a group and an affiliation of the caller (property)', () => {
    fc.assert(
      fc.property(subset, subset, (groups, affiliations) => {
        // Arrange
        const constituents = temporaryGroup().constituents.map((c) => c.groupId);
        const qualifying = constituents.filter((g) => groups.includes(g) && affiliations.includes(g));
        const member = constituents.some((g) => groups.includes(g));
        // Act
        const result = authorizeGroupCall(input({ callerGroups: groups, callerAffiliations: affiliations }));
        // Assess
        if (qualifying.length > 0) {
          expect(result).toEqual({ ok: true, viaGroup: qualifying[0] });
        } else if (!member) {
          expect(result).toMatchObject({ ok: false, status: 403, warningCode: 116 });
        } else {
          expect(result).toMatchObject({ ok: false, status: 403, warningCode: 120 });
        }
      }),
    );
  });

  it('does not depend on the order of the caller groups and affiliations (property)', () => {
    fc.assert(
      fc.property(subset, subset, (groups, affiliations) => {
        // Arrange
        const a = input({ callerGroups: groups, callerAffiliations: affiliations });
        const b = input({
          callerGroups: [...groups].reverse(),
          callerAffiliations: [...affiliations].reverse(),
        });
        // Act / Assess
        expect(authorizeGroupCall(b)).toEqual(authorizeGroupCall(a));
      }),
    );
  });

  it('refuses every caller with 404 when the temporary group is not active (property)', () => {
    fc.assert(
      fc.property(
        subset,
        subset,
        fc.constantFrom<TemporaryGroupStatus>('pending', 'cancelling'),
        (groups, affiliations, status) => {
          // Arrange
          const i = input({
            callerGroups: groups,
            callerAffiliations: affiliations,
            temporaryGroup: temporaryGroup(status),
          });
          // Act
          const result = authorizeGroupCall(i);
          // Assess
          expect(result).toMatchObject({ ok: false, status: 404 });
          expect(result).not.toHaveProperty('warningCode');
        },
      ),
    );
  });
});
