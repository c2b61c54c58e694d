/**
 * The partner API contract between MCPTT systems for group regroup (TS 23.280 §10.2.4 / §10.15
 * across systems): the primary asks each partner hosting a constituent group to accept, then
 * confirms, or releases. Every request is signed (core/request-signing.ts).
 *
 *   POST   /partner/v1/regroups               accept: claim the groups (pending, expiring)
 *   POST   /partner/v1/regroups/{tgi}/confirm make the claims permanent
 *   DELETE /partner/v1/regroups/{tgi}         release every claim of the TGI (idempotent)
 *   POST   /partner/v1/interrogations         the affiliated members of regrouped groups (TS 23.379 steps 3–4)
 */
import { z } from 'zod';
import { CALL_POLICY_LIMITS } from './call-policy.ts';

export const PARTNER_API_PREFIX = '/partner/v1';

/** How long a partner's or our own pending claim lives before it counts as absent. */
export const PENDING_CLAIM_MS = 60_000;

export const regroupPath = (tgi?: string, suffix = ''): string =>
  `${PARTNER_API_PREFIX}/regroups${tgi ? `/${encodeURIComponent(tgi)}` : ''}${suffix}`;

export const AcceptRegroupRequest = z.strictObject({
  tgi: z.string().min(1).max(256),
  displayName: z.string().min(1).max(128),
  creator: z.string().min(1).max(256),
  groups: z.array(z.string().min(1).max(256)).min(1).max(50),
});
export type AcceptRegroupRequest = z.infer<typeof AcceptRegroupRequest>;

const int = (lim: { min: number; max: number }) => z.number().int().min(lim.min).max(lim.max);

export const AcceptedGroup = z.object({
  groupId: z.string(),
  displayName: z.string(),
  policy: z.object({
    minimumNumberToStart: int(CALL_POLICY_LIMITS.minimumNumberToStart),
    acknowledgementTimeoutMs: int(CALL_POLICY_LIMITS.acknowledgementTimeoutMs),
    actionOnExpiry: z.enum(['proceed', 'abandon']),
    hangTimerMs: int(CALL_POLICY_LIMITS.hangTimerMs),
    maximumDurationMs: int(CALL_POLICY_LIMITS.maximumDurationMs),
    priority: int(CALL_POLICY_LIMITS.priority),
  }),
});
export const AcceptRegroupResponse = z.object({ tgi: z.string(), groups: z.array(AcceptedGroup) });
export type AcceptRegroupResponse = z.infer<typeof AcceptRegroupResponse>;

export const interrogationPath = (): string => `${PARTNER_API_PREFIX}/interrogations`;

/** TS 23.379 step 3: the primary asks for the affiliated members of the partner's constituent groups. */
export const InterrogationRequest = z.strictObject({
  callId: z.string().min(1).max(256),
  tgi: z.string().min(1).max(256),
  groups: z.array(z.string().min(1).max(256)).min(1).max(50),
});
export type InterrogationRequest = z.infer<typeof InterrogationRequest>;

/** TS 23.379 step 4: per group, its affiliated members — only the user fields the agreement shares. */
export const InterrogationResponse = z.object({
  tgi: z.string(),
  groups: z.array(
    z.object({
      groupId: z.string(),
      members: z.array(
        z.object({
          mcpttId: z.string(),
          required: z.boolean(),
          displayName: z.string().optional(),
          organization: z.string().optional(),
          functionalAlias: z.string().optional(),
        }),
      ),
    }),
  ),
});
export type InterrogationResponse = z.infer<typeof InterrogationResponse>;
