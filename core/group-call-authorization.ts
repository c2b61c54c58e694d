/**
 * Authorization of the caller of a group call on a temporary group (TGI), checked by the
 * controlling MCPTT function of the primary system when the INVITE arrives (TS 24.379
 * §10.1.1.4.1, §6.3.5; TS 23.379 group call for a temporary group formed by group regroup,
 * pre-conditions 2–4 and step 1).
 *
 * Rules, in this order (the first that fails answers):
 * 1. The TGI names a temporary group of this system in status `active`; anything else — unknown,
 *    `pending` (regroup not yet confirmed by every partner) or `cancelling` (the dispatcher asked
 *    to dissolve it) — is `404 Not Found` without Warning: the group does not exist (any more) for
 *    calls.
 * 2. The caller is a member of at least one constituent group (TS 23.379 pre-condition 2, the
 *    calling user belongs to a group; membership is known only for this system's groups) — else
 *    `403 Forbidden` with Warning `116 user is not part of the MCPTT group` (TS 24.379 §4.4.2).
 * 3. The caller is affiliated to at least one constituent group they are a member of; affiliated
 *    members of constituent groups are implicitly affiliated to the temporary group (TS 23.379
 *    pre-condition 4) — else `403 Forbidden` with Warning `120 user is not affiliated to this group`.
 *
 * Warning 119 (`user is not authorised to initiate the group call`, TS 24.379 §4.4.2) is about the
 * caller's rights in the group (e.g. a member a group document makes receive-only). A temporary
 * group being cancelled is not a matter of the caller's rights, so it answers 404, not 403 + 119.
 * 119 stays in the result type for such per-member rights; no rule produces it today.
 *
 * The creator of the temporary group (a dispatcher) gets no exception: to call the TGI they must
 * be an affiliated member of a constituent group like anyone else (TS 23.379 pre-conditions 2, 4).
 */
import { tryNormalizeSipUri } from './ids.ts';
import type { SipUri, TemporaryGroup } from './model.ts';

/** Input of {@link authorizeGroupCall}. */
export interface GroupCallAuthorizationInput {
  /** The authenticated caller (P-Asserted-Identity / digest identity), an MCPTT ID. */
  caller: SipUri;
  /** The called temporary group identity (the INVITE Request-URI). */
  tgi: SipUri;
  /** The temporary group stored under `tgi`, or `undefined` when none is known. */
  temporaryGroup: TemporaryGroup | undefined;
  /** Groups the caller is a member of on this system. */
  callerGroups: SipUri[];
  /** Groups the caller is affiliated to (unexpired affiliations only). */
  callerAffiliations: SipUri[];
}

/** Outcome of {@link authorizeGroupCall}. */
export type GroupCallAuthorization =
  | {
      ok: true;
      /** The constituent group through which the caller is authorized (member and affiliated). */
      viaGroup: SipUri;
    }
  | { ok: false; status: 403 | 404; warningCode?: 116 | 119 | 120; reason: string };

/** A refused {@link GroupCallAuthorization}. */
export type GroupCallRefusal = Extract<GroupCallAuthorization, { ok: false }>;

const norm = (uri: string): string => tryNormalizeSipUri(uri) ?? uri;

/**
 * Decides whether `caller` may start a group call on the temporary group `tgi` (TS 24.379
 * §10.1.1.4.1 / §6.3.5). Pure; identities are compared in their normal form (core/ids.ts), so
 * un-normalized inputs are accepted.
 *
 * On success `viaGroup` is the first constituent (in the order of `temporaryGroup.constituents`)
 * that the caller is both a member of and affiliated to. An affiliation to a constituent the caller
 * is not a member of does not count.
 *
 * @returns `{ ok: true, viaGroup }`, or `{ ok: false, status, warningCode?, reason }`:
 *   404 (unknown, not active, or a record stored for another TGI), 403 + 116 (not a member of any
 *   constituent), 403 + 120 (member but not affiliated to any constituent they are a member of).
 */
export function authorizeGroupCall(input: GroupCallAuthorizationInput): GroupCallAuthorization {
  const { caller, tgi, temporaryGroup } = input;
  if (temporaryGroup === undefined || norm(temporaryGroup.tgi) !== norm(tgi)) {
    return { ok: false, status: 404, reason: `${tgi} is not a known temporary group` };
  }
  if (temporaryGroup.status !== 'active') {
    const why =
      temporaryGroup.status === 'cancelling'
        ? 'is being cancelled'
        : 'is not active yet (regroup not confirmed)';
    return { ok: false, status: 404, reason: `temporary group ${tgi} ${why}` };
  }

  const memberOf = new Set(input.callerGroups.map(norm));
  const affiliatedTo = new Set(input.callerAffiliations.map(norm));
  const constituentsOfCaller = temporaryGroup.constituents
    .map((c) => norm(c.groupId))
    .filter((g) => memberOf.has(g));
  if (constituentsOfCaller.length === 0) {
    return {
      ok: false,
      status: 403,
      warningCode: 116,
      reason: `${caller} is not a member of any constituent group of ${tgi}`,
    };
  }
  const viaGroup = constituentsOfCaller.find((g) => affiliatedTo.has(g));
  if (viaGroup === undefined) {
    return {
      ok: false,
      status: 403,
      warningCode: 120,
      reason: `${caller} is not affiliated to any constituent group of ${tgi} (member of ${constituentsOfCaller.join(', ')})`,
    };
  }
  return { ok: true, viaGroup };
}
