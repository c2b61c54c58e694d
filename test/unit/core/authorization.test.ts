import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertAdmin,
  assertMayRegroup,
  hasRole,
  mayCancelRegroup,
  type Principal,
} from '#core/authorization.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import { DomainError } from '#core/errors.ts';
import type { Role, TemporaryGroup } from '#core/model.ts';
import { catchError } from './fixtures.ts';

const principal = (mcpttId: string, ...roles: Role[]): Principal => ({ mcpttId, roles });
const tg: TemporaryGroup = {
  tgi: 'sip:tg-1@primary.example',
  displayName: 'Temporary group tg-1',
  constituents: [
    { groupId: 'sip:fire-1@primary.example', system: 'primary.example' },
    { groupId: 'sip:police-1@partner.example', system: 'partner.example' },
  ],
  creator: 'sip:carol@primary.example',
  policy: { ...DEFAULT_CALL_POLICY },
  status: 'active',
  createdAt: 0,
};

describe('Function: hasRole', () => {
  it.each<[Role[], Role, boolean]>([
    [['user'], 'user', true],
    [['user'], 'dispatcher', false],
    [['user'], 'admin', false],
    [['dispatcher'], 'user', true],
    [['dispatcher'], 'dispatcher', true],
    [['dispatcher'], 'admin', false],
    [['admin'], 'user', true],
    [['admin'], 'dispatcher', true],
    [['admin'], 'admin', true],
    [[], 'user', false],
  ])('roles %j has %s: %s', (roles, role, expected) => {
    // Arrange
    const p = principal('sip:a@primary.example', ...roles);
    // Act / Assess
    expect(hasRole(p, role)).toBe(expected);
  });

  it('admin implies every role (property)', () => {
    fc.assert(
      fc.property(
        fc.subarray<Role>(['user', 'dispatcher']),
        fc.constantFrom<Role>('user', 'dispatcher', 'admin'),
        (others, role) => {
          // Arrange
          const p = principal('sip:a@primary.example', 'admin', ...others);
          // Act / Assess
          expect(hasRole(p, role)).toBe(true);
        },
      ),
    );
  });
});

describe('Function: assertAdmin', () => {
  it('passes for an admin', () => {
    // Arrange / Act / Assess
    expect(() => assertAdmin(principal('sip:root@primary.example', 'admin'))).not.toThrow();
  });

  it('throws forbidden naming the user and the missing role', () => {
    // Arrange
    const p = principal('sip:dave@primary.example', 'dispatcher');
    // Act
    const e = catchError(() => assertAdmin(p));
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('forbidden');
    expect(e.message).toBe('sip:dave@primary.example does not have the admin role');
  });
});

describe('Function: assertMayRegroup', () => {
  it.each<[Role[]]>([[['dispatcher']], [['admin']], [['user', 'dispatcher']]])(
    'passes for roles %j',
    (roles) => {
      // Arrange / Act / Assess
      expect(() => assertMayRegroup(principal('sip:a@primary.example', ...roles))).not.toThrow();
    },
  );

  it('throws forbidden for a plain user', () => {
    // Arrange
    const p = principal('sip:erin@primary.example', 'user');
    // Act
    const e = catchError(() => assertMayRegroup(p));
    // Assess
    expect(e.code).toBe('forbidden');
    expect(e.message).toContain('sip:erin@primary.example');
    expect(e.message).toContain('dispatcher or admin');
  });
});

describe('Function: mayCancelRegroup', () => {
  it.each<[string, Principal, boolean]>([
    ['the creator (plain user)', principal('sip:carol@primary.example', 'user'), true],
    ['the creator (un-normalized id)', principal('SIP:carol@PRIMARY.example', 'user'), true],
    ['an admin of another system', principal('sip:root@elsewhere.example', 'admin'), true],
    ['a dispatcher of the owning system', principal('sip:disp@primary.example', 'dispatcher'), true],
    ['a dispatcher of a partner system', principal('sip:disp@partner.example', 'dispatcher'), false],
    ['a plain user of the owning system', principal('sip:u@primary.example', 'user'), false],
    ['a user without roles', principal('sip:u@primary.example'), false],
  ])('%s → %s', (_label, p, expected) => {
    // Arrange: table row
    // Act
    const allowed = mayCancelRegroup(p, tg);
    // Assess
    expect(allowed).toBe(expected);
  });
});
