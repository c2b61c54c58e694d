/**
 * Service provider agreements between MCPTT systems (TS 23.379 pre-condition 1: sharing user
 * information with a partner is governed by the agreement, and only what it allows is shared).
 */
import { tryNormalizeSipUri } from './ids.ts';
import type { PartnerAgreement, ShareableUserField, SipUri, User } from './model.ts';
import { SHAREABLE_USER_FIELDS } from './model.ts';

/** What a partner may see of one of our users. */
export type PartnerVisibleUser = Pick<User, 'mcpttId'> & Partial<Pick<User, ShareableUserField>>;

/**
 * The view of `user` that may be sent to the partner of `agreement`: the MCPTT ID plus those
 * {@link SHAREABLE_USER_FIELDS} that the agreement lists and the user has. Roles and any other
 * field are never shared, whatever the agreement says.
 */
export function filterUserForPartner(user: User, agreement: PartnerAgreement): PartnerVisibleUser {
  const out: PartnerVisibleUser = { mcpttId: user.mcpttId };
  const allowed = new Set<string>(agreement.sharedUserFields);
  for (const field of SHAREABLE_USER_FIELDS) {
    const value = user[field];
    if (allowed.has(field) && value !== undefined) out[field] = value;
  }
  return out;
}

/**
 * Whether the partner may put our group `groupId` into one of its temporary groups:
 * `regroupableGroups` is `'*'` or lists the group (compared in normalized form).
 */
export function partnerMayRegroup(agreement: PartnerAgreement, groupId: SipUri): boolean {
  if (agreement.regroupableGroups === '*') return true;
  const wanted = tryNormalizeSipUri(groupId) ?? groupId;
  return agreement.regroupableGroups.some((g) => (tryNormalizeSipUri(g) ?? g) === wanted);
}

/** The agreement without its shared key, for the admin API. */
export function redactAgreement(a: PartnerAgreement): Omit<PartnerAgreement, 'key'> & { key: 'redacted' } {
  return { ...a, key: 'redacted' };
}
