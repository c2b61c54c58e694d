/**
 * Partner side of an invitation between systems (TS 23.379 step 5): the primary invites one of our
 * members to its temporary group through our edge.
 *
 * Primary course:
 *  1. the leg is signed by a system we have an agreement with (signature, time, nonce never seen);
 *  2. the temporary group belongs to that system;
 *  3. the member is ours and in one of our groups regrouped into that temporary group;
 *  4. relay to the member's registered contacts (most recent first), else 480.
 * Anything else is refused with 403 and the reason in a Warning.
 */
import { DomainError } from '#core/errors.ts';
import { domainOf, tryNormalizeSipUri } from '#core/ids.ts';
import type { SipUri } from '#core/model.ts';
import { legSignatureParts } from '#core/partner-leg.ts';
import { verifySignedRequest } from '#core/request-signing.ts';
import type { AppDeps } from '../shared/deps.ts';
import { SIGNATURE_MAX_SKEW_MS } from '../shared/partner-auth.ts';
import type { CallRoute } from './route-call.ts';

const refuse = (warning: string, warningCode?: number): CallRoute => ({
  action: 'reject',
  status: 403,
  reason: 'Forbidden',
  warning,
  ...(warningCode ? { warningCode } : {}),
});

export const authorizePartnerLeg = async (
  leg: { target: SipUri; tgi: string; headers: Record<string, string> },
  deps: AppDeps,
): Promise<CallRoute> => {
  const tgi = tryNormalizeSipUri(leg.tgi);
  const sender = leg.headers['x-mcptt-system']?.toLowerCase();
  if (!tgi || !sender) return refuse('unsigned partner leg');
  const agreement = await deps.store.getAgreement(sender);
  if (!agreement) return refuse(`no agreement with ${sender}`);
  const now = deps.now();
  let verified: { nonce: string; timestamp: number };
  try {
    const parts = legSignatureParts({ member: leg.target, tgi });
    verified = verifySignedRequest({
      ...parts,
      target: deps.system,
      headers: leg.headers,
      now,
      maxSkewMs: SIGNATURE_MAX_SKEW_MS,
      lookupKey: (s, keyId) =>
        s === agreement.partner && keyId === agreement.keyId ? agreement.key : undefined,
    });
  } catch (e) {
    return refuse(e instanceof DomainError ? e.message : 'bad signature');
  }
  if (domainOf(tgi) !== agreement.partner)
    return refuse(`${tgi} is not a temporary group of ${agreement.partner}`);
  // The nonce (replay protection) and the member's groups and registrations, read together: one round
  // trip instead of four one after the other (the leg is refused below if any check fails).
  const [fresh, groups, bindings] = await Promise.all([
    deps.store.recordNonce(
      agreement.partner,
      verified.nonce,
      verified.timestamp + SIGNATURE_MAX_SKEW_MS + 1,
      now,
    ),
    deps.store.groupsOfUser(leg.target),
    deps.store.listRegistrations(leg.target, now),
  ]);
  if (!fresh) return refuse('replayed partner leg');
  if (groups.length === 0 && !(await deps.store.getUser(leg.target))) {
    return { action: 'reject', status: 404, reason: 'Not Found' };
  }
  const markers = await Promise.all(groups.map((g) => deps.store.getMarker(g, now)));
  if (!markers.some((m) => m?.status === 'active' && m.tgi === tgi)) {
    return refuse('user is not part of the MCPTT group', 116);
  }
  if (bindings.length === 0) return { action: 'reject', status: 480, reason: 'Temporarily Unavailable' };
  const latest = [...bindings].sort((a, b) => b.expiresAt - a.expiresAt);
  return { action: 'relay', targets: latest.map((b) => ({ contact: b.contact })) };
};
