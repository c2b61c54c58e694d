import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import { domainOf } from '#core/ids.ts';
import type { PartnerAgreement } from '#core/model.ts';
import { planRegroup, type RegroupRequest } from '#core/regroup-plan.ts';

const agreement = (partner: string): PartnerAgreement => ({
  partner,
  apiUrl: `https://${partner}/api`,
  sipUri: `sip:edge.${partner}`,
  keyId: 'k1',
  key: 'a2V5LWtleS1rZXkta2V5LWtleQ',
  sharedUserFields: [],
  regroupableGroups: '*',
});
const ctx = {
  system: 'primary.example',
  agreements: [agreement('partner.example'), agreement('Third.Example')],
  random: () => 'abcdef012345',
};

const planError = (req: RegroupRequest, c = ctx): DomainError => {
  try {
    planRegroup(req, c);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};

describe('Function: planRegroup', () => {
  it('splits constituents into ours and each partner, in request order', () => {
    // Arrange
    const req = {
      constituents: [
        'fire-1',
        'sip:police-1@partner.example',
        'ems@third.example',
        'sip:fire-2@PRIMARY.example',
        'police-2@partner.example',
      ],
    };
    // Act
    const plan = planRegroup(req, ctx);
    // Assess
    expect(plan.tgi).toBe('sip:tg-abcdef012345@primary.example');
    expect(plan.displayName).toBe('Temporary group tg-abcdef012345');
    expect(plan.local).toEqual(['sip:fire-1@primary.example', 'sip:fire-2@primary.example']);
    expect([...plan.partners]).toEqual([
      ['partner.example', ['sip:police-1@partner.example', 'sip:police-2@partner.example']],
      ['third.example', ['sip:ems@third.example']],
    ]);
    expect(plan.constituents).toEqual([
      { groupId: 'sip:fire-1@primary.example', system: 'primary.example' },
      { groupId: 'sip:police-1@partner.example', system: 'partner.example' },
      { groupId: 'sip:ems@third.example', system: 'third.example' },
      { groupId: 'sip:fire-2@primary.example', system: 'primary.example' },
      { groupId: 'sip:police-2@partner.example', system: 'partner.example' },
    ]);
    expect(plan.policy).toBeUndefined();
  });

  it('accepts agreements as a map and uses the given name, display name and policy', () => {
    // Arrange
    const agreements = new Map([['partner.example', agreement('partner.example')]]);
    const req = {
      constituents: ['a', 'b@partner.example'],
      name: 'Storm.2026',
      displayName: '  Storm response ',
      policy: { priority: 200 },
    };
    // Act
    const plan = planRegroup(req, { system: 'Primary.Example', agreements });
    // Assess
    expect(plan.tgi).toBe('sip:Storm.2026@primary.example');
    expect(plan.displayName).toBe('Storm response');
    expect(plan.policy).toEqual({ priority: 200 });
  });

  it('generates 12 random hex characters by default', () => {
    // Arrange / Act
    const a = planRegroup({ constituents: ['a', 'b'] }, { system: 'primary.example', agreements: [] });
    const b = planRegroup({ constituents: ['a', 'b'] }, { system: 'primary.example', agreements: [] });
    // Assess
    expect(a.tgi).toMatch(/^sip:tg-[0-9a-f]{12}@primary\.example$/);
    expect(a.tgi).not.toBe(b.tgi);
  });

  it('refuses a constituent of a system without agreement with not_found', () => {
    // Arrange
    const req = { constituents: ['fire-1', 'sip:x@stranger.example'] };
    // Act
    const e = planError(req);
    // Assess
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('no partner agreement with stranger.example');
    expect(e.details).toMatchObject({ system: 'stranger.example' });
  });

  it.each<[string, RegroupRequest, string]>([
    ['one constituent', { constituents: ['a'] }, 'at least 2'],
    ['no constituents', { constituents: [] }, 'at least 2'],
    ['51 constituents', { constituents: Array.from({ length: 51 }, (_, i) => `g${i}`) }, 'at most 50'],
    [
      'duplicates after normalization',
      { constituents: ['fire', 'sip:fire@PRIMARY.example;x=1'] },
      'duplicate constituent group sip:fire@primary.example',
    ],
    ['an invalid constituent', { constituents: ['a', 'tel:+1555'] }, 'unsupported scheme'],
    ['a bad name', { constituents: ['a', 'b'], name: '-bad' }, 'invalid temporary group name'],
    ['a name with @', { constituents: ['a', 'b'], name: 'a@b' }, 'invalid temporary group name'],
    ['a too long name', { constituents: ['a', 'b'], name: 'x'.repeat(64) }, 'invalid temporary group name'],
    [
      'a name equal to a constituent',
      { constituents: ['fire', 'b'], name: 'fire' },
      'is one of its constituent groups',
    ],
    ['an empty display name', { constituents: ['a', 'b'], displayName: '  ' }, 'invalid display name'],
    ['an invalid policy', { constituents: ['a', 'b'], policy: { priority: 999 } }, 'invalid call policy'],
  ])('refuses %s with bad_request', (_label, req, fragment) => {
    // Arrange: table row
    // Act
    const e = planError(req);
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toContain(fragment);
  });

  it('accepts exactly 50 constituents', () => {
    // Arrange
    const req = { constituents: Array.from({ length: 50 }, (_, i) => `g${i}`) };
    // Act / Assess
    expect(planRegroup(req, ctx).local).toHaveLength(50);
  });

  it('places every constituent in exactly one of local/partners, with the right system (property)', () => {
    const systems = ['primary.example', 'partner.example', 'third.example'];
    const groupArb = fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.constantFrom(...systems), fc.boolean())
      .map(([u, s, bare]) => (bare && s === 'primary.example' ? u : `sip:${u}@${s.toUpperCase()}`));
    fc.assert(
      fc.property(
        fc.uniqueArray(groupArb, {
          minLength: 2,
          maxLength: 50,
          selector: (g) => (g.includes('@') ? g.toLowerCase() : `sip:${g}@primary.example`),
        }),
        (constituents) => {
          // Arrange / Act
          const plan = planRegroup({ constituents }, ctx);
          // Assess
          const all = [...plan.local, ...[...plan.partners.values()].flat()];
          expect(all.sort()).toEqual(plan.constituents.map((c) => c.groupId).sort());
          expect(new Set(all).size).toBe(constituents.length);
          for (const c of plan.constituents) {
            expect(c.system).toBe(domainOf(c.groupId));
            const inLocal = plan.local.includes(c.groupId);
            const inPartner = plan.partners.get(c.system)?.includes(c.groupId) ?? false;
            expect(inLocal !== inPartner).toBe(true);
            expect(inLocal).toBe(c.system === 'primary.example');
          }
          expect(plan.partners.has('primary.example')).toBe(false);
        },
      ),
    );
  });
});
