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
 *
 * The legs of a group call reach the edge together and are authorized together
 * ({@link authorizePartnerLegs}): signatures leg by leg (CPU only), then one read of each call's pass
 * and ONE write of the nonces of each call's legs (Store.recordCallNonces), whether or not the call
 * has a pass, so a replay is caught even after the pass expired. A leg that names no call records its
 * nonce on its own (Store.recordNonce), as the partner API's requests do. The signature binds a nonce to
 * its call (or to no call), so a signed leg is always looked for in the one place its nonce was recorded.
 */

import type { CallPass } from '#adapters/dynamo/store.ts';
import { DomainError } from '#core/errors.ts';
import { domainOf, tryNormalizeSipUri } from '#core/ids.ts';
import type { EpochMs, PartnerAgreement, SipUri } from '#core/model.ts';
import { legSignatureParts } from '#core/partner-leg.ts';
import { verifySignedRequest } from '#core/request-signing.ts';
import type { AppDeps } from '../shared/deps.ts';
import { SIGNATURE_MAX_SKEW_MS } from '../shared/partner-auth.ts';
import type { CallRoute } from './route-call.ts';

/** A leg invited by a partner: the member it is for, its TGI and its signature header fields. */
export interface PartnerLeg {
  target: SipUri;
  tgi: string;
  /** Lower-case `x-mcptt-*` names. */
  headers: Record<string, string>;
}

const refuse = (warning: string, warningCode?: number): CallRoute => ({
  action: 'reject',
  status: 403,
  reason: 'Forbidden',
  warning,
  ...(warningCode ? { warningCode } : {}),
});

const REPLAYED = 'replayed partner leg';

/** One leg. */
export const authorizePartnerLeg = async (leg: PartnerLeg, deps: AppDeps): Promise<CallRoute> =>
  (await authorizePartnerLegs([leg], deps))[0] as CallRoute;

/** A leg whose signature, time and TGI passed (step 1 but the nonce, and step 2). */
interface VerifiedLeg {
  target: SipUri;
  tgi: SipUri;
  callId: string | undefined;
  partner: string;
  nonce: string;
  timestamp: number;
}

/** The legs an edge received together (functions/call-routing/handler.ts): their routes, in order. */
export const authorizePartnerLegs = async (
  legs: readonly PartnerLeg[],
  deps: AppDeps,
): Promise<CallRoute[]> => {
  const now = deps.now();
  const agreementsOf = new Map<string, Promise<PartnerAgreement | undefined>>();
  const agreementOnce = (sender: string) => {
    let agreement = agreementsOf.get(sender);
    if (!agreement) {
      agreement = agreementOf(sender, deps);
      agreementsOf.set(sender, agreement);
    }
    return agreement;
  };
  const verified = await Promise.all(legs.map((leg) => verifyLeg(leg, agreementOnce, deps, now)));
  // A nonce an earlier leg of the batch carries (same partner) is a replay: refused without a read.
  const seen = new Set<string>();
  const distinct = verified.filter((v): v is VerifiedLeg => {
    if ('action' in v) return false;
    const key = `${v.partner}\n${v.nonce}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // The nonces are recorded while the members are checked: one round trip.
  const [fresh, routes] = await Promise.all([
    recordNonces(distinct, deps, now),
    Promise.all(
      distinct.map((v) =>
        v.callId
          ? checkAgainstPass(v.target, v.tgi, v.callId, deps, now)
          : checkFromStore(v.target, v.tgi, deps, now),
      ),
    ),
  ]);
  const routeOf = new Map(distinct.map((v, i) => [v, routes[i]]));
  return verified.map((v) => {
    if ('action' in v) return v;
    const route = routeOf.get(v);
    return route && fresh.get(v) ? route : refuse(REPLAYED);
  });
};

/** Step 1 but the nonce (signature with the agreement's key, time) and step 2; a refusal otherwise. */
const verifyLeg = async (
  leg: PartnerLeg,
  agreementOf: (sender: string) => Promise<PartnerAgreement | undefined>,
  deps: AppDeps,
  now: EpochMs,
): Promise<VerifiedLeg | CallRoute> => {
  const tgi = tryNormalizeSipUri(leg.tgi);
  const sender = leg.headers['x-mcptt-system']?.toLowerCase();
  if (!tgi || !sender) return refuse('unsigned partner leg');
  const callId = leg.headers['x-mcptt-call'];
  const agreement = await agreementOf(sender);
  if (!agreement) return refuse(`no agreement with ${sender}`);
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
  return { target: leg.target, tgi, callId: callId || undefined, partner: agreement.partner, ...verified };
};

/**
 * Replay protection for verified legs of distinct nonces: whether each nonce is fresh (not recorded
 * before). The nonces of the legs naming the same call are recorded in one write, kept as long as the
 * latest of their signatures could still be accepted; a leg naming no call records its own.
 */
const recordNonces = async (
  legs: readonly VerifiedLeg[],
  deps: AppDeps,
  now: EpochMs,
): Promise<Map<VerifiedLeg, boolean>> => {
  const fresh = new Map<VerifiedLeg, boolean>();
  const calls = new Map<string, VerifiedLeg[]>();
  const single: VerifiedLeg[] = [];
  for (const v of legs) {
    if (v.callId === undefined) single.push(v);
    else {
      const key = `${v.partner}\n${v.callId}`;
      const of = calls.get(key);
      if (of) of.push(v);
      else calls.set(key, [v]);
    }
  }
  // A nonce is kept as long as its timestamp could still pass the skew check.
  const keptUntil = (timestamp: number) => timestamp + SIGNATURE_MAX_SKEW_MS + 1;
  await Promise.all([
    ...[...calls.values()].map(async (of) => {
      const { partner, callId } = of[0] as VerifiedLeg & { callId: string };
      const replayed = await deps.store.recordCallNonces(
        partner,
        callId,
        of.map((v) => v.nonce),
        keptUntil(Math.max(...of.map((v) => v.timestamp))),
      );
      for (const v of of) fresh.set(v, !replayed.has(v.nonce));
    }),
    ...single.map(async (v) => {
      fresh.set(v, await deps.store.recordNonce(v.partner, v.nonce, keptUntil(v.timestamp), now));
    }),
  ]);
  return fresh;
};

/** Steps 2–4 against the call pass of `callId`, or from the store when there is none. */
const checkAgainstPass = async (
  target: SipUri,
  tgi: SipUri,
  callId: string,
  deps: AppDeps,
  now: EpochMs,
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
  now: EpochMs,
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

/**
 * Call passes read by this container, until they expire (a pass never changes once written), and the
 * reads in flight: the legs of a batch that all miss the cache wait for the same read. A read that
 * fails or finds no pass is not kept (the next leg reads again).
 */
interface CachedPass {
  pass: Promise<CallPass | undefined>;
  /** Once read. */
  expiresAt?: EpochMs;
}
const passes = new Map<string, CachedPass>();
const MAX_CACHED_PASSES = 1000;

/** Call passes this container holds (read or being read). */
export const cachedCallPasses = (): number => passes.size;

const callPassOf = async (
  tgi: SipUri,
  callId: string,
  deps: AppDeps,
  now: EpochMs,
): Promise<CallPass | undefined> => {
  const key = `${tgi}\n${callId}`;
  let cached = passes.get(key);
  if (!cached || (cached.expiresAt !== undefined && cached.expiresAt <= now)) {
    // Passes have one lifetime, so the oldest expire first: expired ones go on every miss (kept until the
    // cache was full, up to a thousand calls' members stayed in memory for nothing), then the oldest
    // while the cache is full.
    for (const [k, p] of passes) {
      const expired = p.expiresAt !== undefined && p.expiresAt <= now;
      if (!expired && passes.size < MAX_CACHED_PASSES) break;
      passes.delete(k);
    }
    const entry: CachedPass = { pass: deps.store.getCallPass(tgi, callId, now) };
    const forget = () => {
      if (passes.get(key) === entry) passes.delete(key);
    };
    entry.pass.then((pass) => {
      if (pass) entry.expiresAt = pass.expiresAt;
      else forget();
    }, forget);
    passes.delete(key); // an expired entry of this key: the new one goes last, in expiry order
    passes.set(key, entry);
    cached = entry;
  }
  const pass = await cached.pass;
  return pass && pass.expiresAt > now ? pass : undefined;
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
