/**
 * Role checks for API callers. Roles are hierarchical: `admin` implies every role and
 * `dispatcher` implies `user`. Group regroup is reserved to authorized users (TS 23.280 §10.2.4:
 * "an authorized user/dispatcher"); this project authorizes dispatchers and admins.
 */
import { forbidden } from './errors.ts';
import { domainOf, tryNormalizeSipUri } from './ids.ts';
import type { Role, SipUri, TemporaryGroup } from './model.ts';

/** An authenticated caller of the API. */
export interface Principal {
  mcpttId: SipUri;
  roles: Role[];
}

/** True when `p` holds `role` directly or through a role that implies it. */
export function hasRole(p: Principal, role: Role): boolean {
  if (p.roles.includes('admin')) return true;
  if (role === 'user' && p.roles.includes('dispatcher')) return true;
  return p.roles.includes(role);
}

/**
 * @throws DomainError `forbidden`: `<mcpttId> does not have the admin role`.
 */
export function assertAdmin(p: Principal): void {
  if (!hasRole(p, 'admin')) {
    throw forbidden(`${p.mcpttId} does not have the admin role`, {
      mcpttId: p.mcpttId,
      missingRole: 'admin',
    });
  }
}

/**
 * Regroup (creating a temporary group) needs the dispatcher or admin role.
 * @throws DomainError `forbidden`: `<mcpttId> does not have the dispatcher or admin role needed to regroup`.
 */
export function assertMayRegroup(p: Principal): void {
  if (!hasRole(p, 'dispatcher')) {
    throw forbidden(`${p.mcpttId} does not have the dispatcher or admin role needed to regroup`, {
      mcpttId: p.mcpttId,
      missingRole: 'dispatcher',
    });
  }
}

const same = (a: string, b: string): boolean => (tryNormalizeSipUri(a) ?? a) === (tryNormalizeSipUri(b) ?? b);

const domainOrUndefined = (uri: string): string | undefined => {
  try {
    return domainOf(uri);
  } catch {
    return undefined;
  }
};

/**
 * Whether `p` may cancel the temporary group `tg`: its creator, any admin, or any dispatcher of
 * the system that owns the temporary group (same domain as the TGI).
 */
export function mayCancelRegroup(p: Principal, tg: TemporaryGroup): boolean {
  if (same(p.mcpttId, tg.creator)) return true;
  if (hasRole(p, 'admin')) return true;
  if (!hasRole(p, 'dispatcher')) return false;
  const mine = domainOrUndefined(p.mcpttId);
  return mine !== undefined && mine === domainOrUndefined(tg.tgi);
}
