import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { activeOnly, isActive, planAffiliationUpdate } from '#core/affiliation.ts';
import type { Affiliation } from '#core/model.ts';

const NOW = 1_800_000_000_000;
const ALICE = 'sip:alice@primary.example';
const aff = (groupId: string, expiresAt: number, clientId = 'c1', mcpttId = ALICE): Affiliation => ({
  mcpttId,
  groupId,
  clientId,
  expiresAt,
});
const G1 = 'sip:g1@primary.example';
const G2 = 'sip:g2@primary.example';
const G3 = 'sip:g3@partner.example';

describe('Function: isActive', () => {
  it.each([
    [NOW + 1, true],
    [NOW, false],
    [NOW - 1, false],
  ])('expiresAt %d at now is %s', (expiresAt, expected) => {
    // Arrange / Act / Assess
    expect(isActive({ expiresAt }, NOW)).toBe(expected);
  });
});

describe('Function: activeOnly', () => {
  it('keeps the active elements in order', () => {
    // Arrange
    const xs = [aff(G1, NOW + 5), aff(G2, NOW), aff(G3, NOW + 1)];
    // Act
    const active = activeOnly(xs, NOW);
    // Assess
    expect(active).toEqual([xs[0], xs[2]]);
  });

  it('keeps exactly the elements with now < expiresAt (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: NOW - 10, max: NOW + 10 })), (times) => {
        // Arrange
        const xs = times.map((expiresAt, i) => ({ i, expiresAt }));
        // Act
        const active = activeOnly(xs, NOW);
        // Assess
        expect(active.map((x) => x.i)).toEqual(xs.filter((x) => x.expiresAt > NOW).map((x) => x.i));
      }),
    );
  });
});

describe('Function: planAffiliationUpdate', () => {
  it('upserts new and refreshed groups and removes absent and expired ones', () => {
    // Arrange
    const current = [aff(G1, NOW + 100), aff(G2, NOW + 100)];
    const next = {
      mcpttId: ALICE,
      clientId: 'c1',
      affiliations: [
        { groupId: G1, expiresAt: NOW + 3600 },
        { groupId: G3, expiresAt: NOW + 60 },
      ],
    };
    // Act
    const plan = planAffiliationUpdate(current, next, NOW);
    // Assess
    expect(plan.upsert).toEqual([aff(G1, NOW + 3600), aff(G3, NOW + 60)]);
    expect(plan.remove).toEqual([aff(G2, NOW + 100)]);
  });

  it('removes a group whose expiresAt is now (expires 0 = de-affiliation)', () => {
    // Arrange
    const current = [aff(G1, NOW + 100)];
    const next = { mcpttId: ALICE, clientId: 'c1', affiliations: [{ groupId: G1, expiresAt: NOW }] };
    // Act
    const plan = planAffiliationUpdate(current, next, NOW);
    // Assess
    expect(plan).toEqual({ upsert: [], remove: [aff(G1, NOW + 100)] });
  });

  it('does not touch other clients of the same user, nor other users', () => {
    // Arrange
    const current = [
      aff(G1, NOW + 100, 'c2'),
      aff(G1, NOW + 100, 'c1', 'sip:bob@primary.example'),
      aff(G2, NOW + 1),
    ];
    const next = { mcpttId: ALICE, clientId: 'c1', affiliations: [] };
    // Act
    const plan = planAffiliationUpdate(current, next, NOW);
    // Assess
    expect(plan).toEqual({ upsert: [], remove: [aff(G2, NOW + 1)] });
  });

  it('lets the last entry of a group win', () => {
    // Arrange
    const next = {
      mcpttId: ALICE,
      clientId: 'c1',
      affiliations: [
        { groupId: G1, expiresAt: NOW + 5 },
        { groupId: G1, expiresAt: NOW },
      ],
    };
    // Act
    const plan = planAffiliationUpdate([aff(G1, NOW + 1)], next, NOW);
    // Assess
    expect(plan).toEqual({ upsert: [], remove: [aff(G1, NOW + 1)] });
  });

  it('after applying the plan, the client holds exactly its active published groups (property)', () => {
    const groupArb = fc.constantFrom<string>(G1, G2, G3, 'sip:g4@primary.example');
    const affArb: fc.Arbitrary<Affiliation> = fc.record({
      mcpttId: fc.constantFrom<string>(ALICE, 'sip:bob@primary.example'),
      groupId: groupArb,
      clientId: fc.constantFrom<string>('c1', 'c2'),
      expiresAt: fc.integer({ min: NOW - 5, max: NOW + 5 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(affArb, { selector: (a) => `${a.mcpttId} ${a.clientId} ${a.groupId}` }),
        fc.array(fc.record({ groupId: groupArb, expiresAt: fc.integer({ min: NOW - 5, max: NOW + 5 }) })),
        (current, published) => {
          // Arrange
          const next = { mcpttId: ALICE, clientId: 'c1', affiliations: published };
          const key = (a: Affiliation) => `${a.mcpttId} ${a.clientId} ${a.groupId}`;
          // Act
          const { upsert, remove } = planAffiliationUpdate(current, next, NOW);
          const state = new Map(current.map((a) => [key(a), a]));
          for (const r of remove) state.delete(key(r));
          for (const u of upsert) state.set(key(u), u);
          // Assess
          const last = new Map(published.map((p) => [p.groupId, p.expiresAt]));
          const mine = [...state.values()].filter((a) => a.mcpttId === ALICE && a.clientId === 'c1');
          expect(new Set(mine.map((a) => a.groupId))).toEqual(
            new Set([...last].filter(([, t]) => t > NOW).map(([g]) => g)),
          );
          for (const a of mine) expect(a.expiresAt).toBe(last.get(a.groupId));
          const others = (xs: Iterable<Affiliation>) =>
            [...xs].filter((a) => a.mcpttId !== ALICE || a.clientId !== 'c1');
          expect(others(state.values())).toEqual(others(current));
        },
      ),
    );
  });
});
