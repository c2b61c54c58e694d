import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterUserForPartner, partnerMayRegroup, redactAgreement } from '#core/agreement.ts';
import { type PartnerAgreement, type Role, SHAREABLE_USER_FIELDS, type User } from '#core/model.ts';

const agreement = (over: Partial<PartnerAgreement> = {}): PartnerAgreement => ({
  partner: 'partner.example',
  apiUrl: 'https://partner.example/api',
  sipUri: 'sip:edge.partner.example',
  keyId: 'k1',
  key: 'c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0xNi1ieXRlcw',
  sharedUserFields: [],
  regroupableGroups: [],
  ...over,
});
const alice: User = {
  mcpttId: 'sip:alice@primary.example',
  displayName: 'Alice',
  organization: 'Fire',
  functionalAlias: 'sip:chief@primary.example',
  roles: ['dispatcher'],
};

describe('Function: filterUserForPartner', () => {
  it('shares only the MCPTT ID when the agreement allows nothing', () => {
    // Arrange / Act
    const view = filterUserForPartner(alice, agreement());
    // Assess
    expect(view).toEqual({ mcpttId: alice.mcpttId });
  });

  it('shares the allowed fields that are present', () => {
    // Arrange
    const user: User = { mcpttId: 'sip:bob@primary.example', displayName: 'Bob', roles: ['user'] };
    // Act
    const view = filterUserForPartner(user, agreement({ sharedUserFields: ['displayName', 'organization'] }));
    // Assess
    expect(view).toEqual({ mcpttId: 'sip:bob@primary.example', displayName: 'Bob' });
    expect(Object.keys(view)).not.toContain('organization');
  });

  it('never shares roles, even when a bad agreement lists them', () => {
    // Arrange
    const bad = agreement({
      sharedUserFields: ['roles', 'displayName'] as unknown as PartnerAgreement['sharedUserFields'],
    });
    // Act
    const view = filterUserForPartner(alice, bad);
    // Assess
    expect(view).toEqual({ mcpttId: alice.mcpttId, displayName: 'Alice' });
  });

  it('never contains a field outside the agreement, nor roles (property)', () => {
    const userArb: fc.Arbitrary<User> = fc.record(
      {
        mcpttId: fc.constant('sip:x@primary.example'),
        displayName: fc.string(),
        organization: fc.string(),
        functionalAlias: fc.string(),
        roles: fc.subarray<Role>(['user', 'dispatcher', 'admin']),
      },
      { requiredKeys: ['mcpttId', 'displayName', 'roles'] },
    );
    fc.assert(
      fc.property(userArb, fc.subarray([...SHAREABLE_USER_FIELDS]), (user, fields) => {
        // Arrange
        const a = agreement({ sharedUserFields: fields });
        // Act
        const view = filterUserForPartner(user, a);
        // Assess
        expect(view.mcpttId).toBe(user.mcpttId);
        expect(view).not.toHaveProperty('roles');
        for (const key of Object.keys(view)) {
          if (key !== 'mcpttId') expect(fields).toContain(key);
        }
        for (const f of fields) {
          if (user[f] !== undefined) expect(view[f]).toBe(user[f]);
        }
      }),
    );
  });
});

describe('Function: partnerMayRegroup', () => {
  it.each<[PartnerAgreement['regroupableGroups'], string, boolean]>([
    ['*', 'sip:any@primary.example', true],
    [['sip:fire-1@primary.example'], 'sip:fire-1@primary.example', true],
    [['sip:fire-1@primary.example'], 'sip:fire-1@PRIMARY.example;x=y', true],
    [['sip:fire-1@primary.example'], 'sip:fire-2@primary.example', false],
    [[], 'sip:fire-1@primary.example', false],
  ])('regroupable %j, group %s → %s', (regroupableGroups, groupId, expected) => {
    // Arrange
    const a = agreement({ regroupableGroups });
    // Act / Assess
    expect(partnerMayRegroup(a, groupId)).toBe(expected);
  });
});

describe('Function: redactAgreement', () => {
  it('replaces the key and keeps everything else', () => {
    // Arrange
    const a = agreement({ sharedUserFields: ['displayName'], regroupableGroups: '*' });
    // Act
    const redacted = redactAgreement(a);
    // Assess
    expect(redacted.key).toBe('redacted');
    expect({ ...redacted, key: a.key }).toEqual(a);
    expect(JSON.stringify(redacted)).not.toContain(a.key);
    expect(a.key).not.toBe('redacted');
  });
});
