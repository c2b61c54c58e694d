/**
 * Group call policies (TS 24.481 on-network commencement values) and the single merged policy of
 * a temporary group (TS 23.280 §10.2.4: one priority, one set of timers).
 */
import { z } from 'zod';
import { badRequest } from './errors.ts';
import type { CallPolicy, ExpiryAction } from './model.ts';

/** Policy applied when a group defines none. */
export const DEFAULT_CALL_POLICY: Readonly<CallPolicy> = Object.freeze({
  minimumNumberToStart: 1,
  acknowledgementTimeoutMs: 5000,
  actionOnExpiry: 'proceed',
  hangTimerMs: 10000,
  maximumDurationMs: 300000,
  priority: 5,
});

/** The numeric fields of {@link CallPolicy}. */
export type NumericCallPolicyField = Exclude<keyof CallPolicy, 'actionOnExpiry'>;

/** Inclusive integer bounds of every numeric policy field. */
export const CALL_POLICY_LIMITS: Readonly<Record<NumericCallPolicyField, { min: number; max: number }>> =
  Object.freeze({
    minimumNumberToStart: { min: 1, max: 10000 },
    acknowledgementTimeoutMs: { min: 100, max: 120000 },
    hangTimerMs: { min: 0, max: 600000 },
    maximumDurationMs: { min: 1000, max: 86400000 },
    /** TS 24.481 <on-network-group-priority>, 0 lowest .. 255 highest. */
    priority: { min: 0, max: 255 },
  });

const NUMERIC_FIELDS = Object.keys(CALL_POLICY_LIMITS) as NumericCallPolicyField[];

const bounded = (f: NumericCallPolicyField) =>
  z.number().int().min(CALL_POLICY_LIMITS[f].min).max(CALL_POLICY_LIMITS[f].max).optional();

/**
 * Zod schema of a partial {@link CallPolicy} as accepted from HTTP clients: every field optional,
 * integers within {@link CALL_POLICY_LIMITS}, unknown keys rejected.
 */
export const callPolicySchema = z.strictObject({
  minimumNumberToStart: bounded('minimumNumberToStart'),
  acknowledgementTimeoutMs: bounded('acknowledgementTimeoutMs'),
  actionOnExpiry: z.enum(['proceed', 'abandon']).optional(),
  hangTimerMs: bounded('hangTimerMs'),
  maximumDurationMs: bounded('maximumDurationMs'),
  priority: bounded('priority'),
});

/**
 * Validates an untrusted partial policy with {@link callPolicySchema}.
 * @throws DomainError `bad_request`: `invalid call policy: <field>: <problem>; ...`.
 */
export function parseCallPolicyPatch(input: unknown): Partial<CallPolicy> {
  const result = callPolicySchema.safeParse(input ?? {});
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(policy)'}: ${i.message}`)
      .join('; ');
    throw badRequest(`invalid call policy: ${problems}`);
  }
  const out: Partial<CallPolicy> = {};
  for (const [k, v] of Object.entries(result.data)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * A complete policy: `base` with the defined fields of `partial` applied. `partial` is validated
 * (limits, unknown keys) because it usually comes from a request.
 * @throws DomainError `bad_request` when `partial` is invalid (see {@link parseCallPolicyPatch}).
 */
export function resolveCallPolicy(
  partial?: Partial<CallPolicy>,
  base: CallPolicy = DEFAULT_CALL_POLICY,
): CallPolicy {
  return { ...base, ...parseCallPolicyPatch(partial) };
}

/**
 * Brings a stored or partner-supplied policy into range: numeric fields rounded and clamped to
 * {@link CALL_POLICY_LIMITS} (non-finite values become the default), unknown action → default.
 */
export function clampCallPolicy(p: CallPolicy): CallPolicy {
  const out = { ...DEFAULT_CALL_POLICY, actionOnExpiry: p.actionOnExpiry };
  if (out.actionOnExpiry !== 'proceed' && out.actionOnExpiry !== 'abandon') {
    out.actionOnExpiry = DEFAULT_CALL_POLICY.actionOnExpiry;
  }
  for (const f of NUMERIC_FIELDS) {
    const v = p[f];
    const { min, max } = CALL_POLICY_LIMITS[f];
    out[f] = Number.isFinite(v) ? Math.min(max, Math.max(min, Math.round(v))) : DEFAULT_CALL_POLICY[f];
  }
  return out;
}

/**
 * The one merged policy of a temporary group (TS 23.280 §10.2.4: a temporary group has one
 * priority and one set of timers), built from the policies of its constituent groups.
 *
 * Rule — the strictest/most generous value wins, so no constituent is downgraded:
 * - `priority` = max (the temporary group is at least as important as any constituent);
 * - `minimumNumberToStart` = max;
 * - `acknowledgementTimeoutMs` = max;
 * - `actionOnExpiry` = `'abandon'` if any constituent says `'abandon'`, else `'proceed'`;
 * - `hangTimerMs` = max;
 * - `maximumDurationMs` = max.
 *
 * Inputs are first clamped into {@link CALL_POLICY_LIMITS} ({@link clampCallPolicy}). Then the
 * defined fields of `override` (validated) win. An empty list yields {@link DEFAULT_CALL_POLICY}
 * with `override` applied. The result does not depend on the order of `policies`.
 *
 * @throws DomainError `bad_request` when `override` is invalid.
 */
export function mergeCallPolicies(
  policies: readonly CallPolicy[],
  override?: Partial<CallPolicy>,
): CallPolicy {
  const patch = parseCallPolicyPatch(override);
  if (policies.length === 0) return { ...DEFAULT_CALL_POLICY, ...patch };
  const clamped = policies.map(clampCallPolicy);
  const max = (f: NumericCallPolicyField): number => Math.max(...clamped.map((p) => p[f]));
  const actionOnExpiry: ExpiryAction = clamped.some((p) => p.actionOnExpiry === 'abandon')
    ? 'abandon'
    : 'proceed';
  const merged: CallPolicy = {
    minimumNumberToStart: max('minimumNumberToStart'),
    acknowledgementTimeoutMs: max('acknowledgementTimeoutMs'),
    actionOnExpiry,
    hangTimerMs: max('hangTimerMs'),
    maximumDurationMs: max('maximumDurationMs'),
    priority: max('priority'),
  };
  return { ...merged, ...patch };
}
