/**
 * Commencement of a group call on a temporary group: when the controlling MCPTT function answers
 * the initiator, given the answers of the invited members so far (TS 24.481 §7.2.2 on-network
 * commencement policies of the group document; TS 24.379 §10.1.1.4.2 and §6.3.3.3, the
 * acknowledged group call setup with timer TNG1; TS 23.379 step 5).
 *
 * Policy fields (core/model.ts {@link CallPolicy}):
 * - `minimumNumberToStart` — `<on-network-minimum-number-to-start>`: invited members that must have
 *   accepted before the call starts. The initiator is not a leg and does not count;
 * - per member `required` — `<on-network-required>`: the call waits for this member's acknowledgement;
 * - `acknowledgementTimeoutMs` — `<on-network-timeout-for-acknowledgement-of-required-members>`,
 *   timer TNG1 (the workflow runs it; this module only reads `timerExpired`);
 * - `actionOnExpiry` — `<on-network-action-upon-expiration-of-timeout-for-acknowledgement-of-required-members>`:
 *   on TNG1 expiry with required members missing, `proceed` → 200 with Warning 111, `abandon` →
 *   480 with Warning 112 (TS 24.379 §4.4.2).
 *
 * Decision rule ({@link evaluateCommencement}); "final" means the timer expired or no leg is pending:
 * 1. no legs at all → abandon 480 (nobody to call);
 * 2. accepted ≥ minimum AND every required member accepted → proceed (no Warning);
 * 3. a required member declined/failed (it can never accept) and the action is `abandon`, or — when
 *    final — a required member is not accepted and the action is `abandon` → abandon 480 + 112;
 * 4. accepted + pending < minimum (the minimum can no longer be reached), or — when final — the
 *    minimum is not reached → abandon 480 without Warning (the minimum is a hard condition, whatever
 *    the action on expiry, which is about required members only);
 * 5. the minimum is reached, required members are missing for good (declined/failed, or not
 *    accepted when final) and the action is `proceed` → proceed with Warning 111;
 * 6. otherwise → wait.
 *
 * Rules 3–5 decide before TNG1 expires as soon as the outcome at expiry is already certain (a final
 * leg never changes, the accepted count only grows): the answer is the one TNG1's expiry would
 * give, without making the initiator wait for nothing. TNG1 also bounds the wait for the minimum
 * when the group has no required members (TS 24.379 runs TNG1 only when required members exist;
 * the workflow needs one bound for the whole setup).
 */
import type { CallPolicy, SipUri, SystemDomain } from './model.ts';

/** State of one invited member's leg: no final answer yet, or its final answer. */
export type LegState = 'pending' | 'accepted' | 'declined' | 'failed';

/** What commencement needs to know about one invited member. */
export interface LegView {
  member: SipUri;
  /** The system that hosts the member (where the invitation was sent). */
  system: SystemDomain;
  /** `<on-network-required>` of the member in its constituent group (TS 24.481 §7.2.4.2). */
  required: boolean;
  state: LegState;
}

/** Result of {@link evaluateCommencement}. */
export type CommencementDecision =
  | { decision: 'wait' }
  | { decision: 'proceed'; warningCode?: 111 }
  | { decision: 'abandon'; status: 480; warningCode: 112 | undefined; reason: string };

/** A decision that ends the call setup (not `wait`). */
export type FinalCommencementDecision = Exclude<CommencementDecision, { decision: 'wait' }>;

/** Leg counts that {@link evaluateCommencement} decides on. */
export interface LegCounts {
  total: number;
  accepted: number;
  pending: number;
  /** declined + failed. */
  lost: number;
  required: number;
  requiredAccepted: number;
  requiredPending: number;
  /** Required members that declined or failed. */
  requiredLost: number;
}

/** Counts the legs by state, overall and for required members. */
export function countLegs(legs: readonly LegView[]): LegCounts {
  const c: LegCounts = {
    total: legs.length,
    accepted: 0,
    pending: 0,
    lost: 0,
    required: 0,
    requiredAccepted: 0,
    requiredPending: 0,
    requiredLost: 0,
  };
  for (const leg of legs) {
    const lost = leg.state === 'declined' || leg.state === 'failed';
    if (leg.state === 'accepted') c.accepted++;
    else if (leg.state === 'pending') c.pending++;
    else if (lost) c.lost++;
    if (leg.required) {
      c.required++;
      if (leg.state === 'accepted') c.requiredAccepted++;
      else if (leg.state === 'pending') c.requiredPending++;
      else if (lost) c.requiredLost++;
    }
  }
  return c;
}

/**
 * The minimum number to start actually applied: the policy value rounded up, at least 0; a
 * non-finite value counts as 1 (one accepting member).
 */
export const effectiveMinimumNumberToStart = (policy: CallPolicy): number =>
  Number.isFinite(policy.minimumNumberToStart) ? Math.max(0, Math.ceil(policy.minimumNumberToStart)) : 1;

const abandon = (warningCode: 112 | undefined, reason: string): CommencementDecision => ({
  decision: 'abandon',
  status: 480,
  warningCode,
  reason,
});

/**
 * Decides whether the group call can start now, must be abandoned, or must wait for more answers
 * (see the module comment for the rule and TS 24.379 §6.3.3.3 / §10.1.1.4.2, TS 24.481 §7.2.2).
 *
 * The decision depends only on the leg counts ({@link countLegs}), the minimum number to start, the
 * action on expiry and `timerExpired`, never on who the members are or on their order. The `reason`
 * of an abandon names the counts. It is monotonic: turning a pending leg into `accepted` never turns
 * `proceed` into `wait` or `abandon`.
 *
 * @param opts.timerExpired TNG1 (acknowledgement of required members) expired.
 */
export function evaluateCommencement(
  policy: CallPolicy,
  legs: readonly LegView[],
  opts: { timerExpired: boolean },
): CommencementDecision {
  return evaluateCommencementCounts(policy, countLegs(legs), opts);
}

/**
 * {@link evaluateCommencement} on counts alone, for callers that aggregate responses in counters
 * (the member-response function keeps them as atomic counters on the call record).
 */
export function evaluateCommencementCounts(
  policy: CallPolicy,
  c: LegCounts,
  opts: { timerExpired: boolean },
): CommencementDecision {
  if (c.total === 0) return abandon(undefined, 'no affiliated member to invite');

  const minimum = effectiveMinimumNumberToStart(policy);
  const minimumReached = c.accepted >= minimum;
  const requiredMissing = c.required - c.requiredAccepted;
  if (minimumReached && requiredMissing === 0) return { decision: 'proceed' };

  const final = opts.timerExpired || c.pending === 0;
  // Required members that will not be part of the session, whatever happens next.
  const requiredMissingForGood = final ? requiredMissing : c.requiredLost;
  const requiredText = () =>
    `${requiredMissingForGood} of ${c.required} required member(s) ${final && c.requiredPending > 0 ? 'did not accept in time' : 'declined or failed'}`;

  if (requiredMissingForGood > 0 && policy.actionOnExpiry === 'abandon') {
    return abandon(112, requiredText());
  }
  if (final ? !minimumReached : c.accepted + c.pending < minimum) {
    return abandon(
      undefined,
      `minimum number to start not reached: ${c.accepted} accepted of ${minimum} needed (${c.pending} pending, ${c.lost} declined or failed, ${c.total} invited)`,
    );
  }
  if (minimumReached && requiredMissingForGood > 0) return { decision: 'proceed', warningCode: 111 };
  return { decision: 'wait' };
}
