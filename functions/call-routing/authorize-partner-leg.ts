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
 *
 * A leg that names its call (`X-MCPTT-Call`, covered by the signature) is checked against the call
 * pass our interrogation of that call wrote (functions/partner-api/interrogate-groups.ts): steps 2–4
 * then cost no read per leg (the pass is read once per call and container). Without a pass (a leg
 * that names no call, or a pass expired), the checks are made from the store, leg by leg.
 */

import type { CallPass } from '#adapters/dynamo/store.ts';
import { DomainError } from '#core/errors.ts';
import { domainOf, tryNormalizeSipUri } from '#core/ids.ts';
import type { PartnerAgreement, SipUri } from '#core/model.ts';
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
  const callId = leg.headers['x-mcptt-call'];
  const agreement = await agreementOf(sender, deps);
  if (!agreement) return refuse(`no agreement with ${sender}`);
  const now = deps.now();
  let verified: { nonce: string; timestamp: number };
  try {
    const parts = legSignatureParts({ member: leg.target, tgi, ...(callId ? { callId } : {}) });
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
  // The nonce (replay protection) is recorded while the member is checked: one round trip.
  const [fresh, route] = await Promise.all([
    deps.store.recordNonce(
      agreement.partner,
      verified.nonce,
      verified.timestamp + SIGNATURE_MAX_SKEW_MS + 1,
      now,
    ),
    callId
      ? checkAgainstPass(leg.target, tgi, callId, deps, now)
      : checkFromStore(leg.target, tgi, deps, now),
  ]);
  return fresh ? route : refuse('replayed partner leg');
};

/** Steps 2–4 against the call pass of `callId`, or from the store when there is none. */
const checkAgainstPass = async (
  target: SipUri,
  tgi: SipUri,
  callId: string,
  deps: AppDeps,
  now: number,
): Promise<CallRoute> => {
  const pass = await callPassOf(tgi, callId, deps, now);
  if (!pass) return checkFromStore(target, tgi, deps, now);
  const contacts = pass.members[target];
  if (contacts === undefined) return refuse('user is not part of the MCPTT group', 116);
  if (contacts.length === 0) return { action: 'reject', status: 480, reason: 'Temporarily Unavailable' };
  return { action: 'relay', targets: contacts.map((contact) => ({ contact })) };
};

/** The member checks of steps 2–4 from the store (no call pass). */
const checkFromStore = async (
  target: SipUri,
  tgi: SipUri,
  deps: AppDeps,
  now: number,
): Promise<CallRoute> => {
  const [groups, bindings] = await Promise.all([
    deps.store.groupsOfUser(target),
    deps.store.listRegistrations(target, now),
  ]);
  if (groups.length === 0 && !(await deps.store.getUser(target))) {
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

/** Call passes read by this container, until they expire (a pass never changes once written). */
const passes = new Map<string, CallPass>();
const MAX_CACHED_PASSES = 1000;

const callPassOf = async (
  tgi: SipUri,
  callId: string,
  deps: AppDeps,
  now: number,
): Promise<CallPass | undefined> => {
  const key = `${tgi}\n${callId}`;
  const cached = passes.get(key);
  if (cached && cached.expiresAt > now) return cached;
  const pass = await deps.store.getCallPass(tgi, callId, now);
  if (pass) {
    if (passes.size >= MAX_CACHED_PASSES) {
      for (const [k, p] of passes)
        if (p.expiresAt <= now || passes.size >= MAX_CACHED_PASSES) passes.delete(k);
    }
    passes.set(key, pass);
  }
  return pass;
};

/**
 * Agreements read by this container, for {@link AGREEMENT_CACHE_MS}: every leg of a call comes from
 * the same partner within moments. A changed or deleted agreement applies to legs at most that much
 * later (regroups and interrogations read it afresh).
 */
export const AGREEMENT_CACHE_MS = 5_000;
const agreements = new Map<string, { agreement: PartnerAgreement | undefined; until: number }>();

const agreementOf = async (sender: string, deps: AppDeps): Promise<PartnerAgreement | undefined> => {
  const now = Date.now();
  const cached = agreements.get(sender);
  if (cached && cached.until > now) return cached.agreement;
  const agreement = await deps.store.getAgreement(sender);
  if (agreements.size > 100) agreements.clear();
  // Only found agreements are kept: a partner whose agreement is being created is not refused for long.
  if (agreement) agreements.set(sender, { agreement, until: now + AGREEMENT_CACHE_MS });
  return agreement;
};
