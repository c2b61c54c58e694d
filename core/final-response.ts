/**
 * The final SIP response to the initiator of a group call on a temporary group, from the outcome
 * of the call setup (architecture, workflow steps 1 and 7):
 *
 * | outcome | status | reason phrase | Warning (TS 24.379 §4.4.2) |
 * |---|---|---|---|
 * | commencement `proceed` | 200 | OK | 111 when the call proceeded without all required members |
 * | commencement `abandon` | 480 | Temporarily Unavailable | 112 when abandoned for required members |
 * | authorization refused, 403 | 403 | Forbidden | 116 / 119 / 120 as refused |
 * | authorization refused, 404 | 404 | Not Found | — |
 *
 * TS 24.379 §6.3.3.3 (TNG1 expiry: proceed → 200 + 111, abandon → 480 + 112) and §10.1.1.4.1
 * (403 + 116/120 for callers that are not members or not affiliated). `reason` is the RFC 3261 §21
 * reason phrase of the status line; the detailed reason of a refusal or abandon goes into the
 * call setup result (core/call-setup-result.ts) and logs, not into the status line.
 */
import type { FinalCommencementDecision } from './commencement-policy.ts';
import { badRequest } from './errors.ts';
import type { GroupCallRefusal } from './group-call-authorization.ts';
import type { WarningCode } from './warning-codes.ts';

/** What {@link finalResponseFor} maps: a final commencement decision or a refused authorization. */
export type FinalResponseInput = FinalCommencementDecision | GroupCallRefusal;

/** Status line and Warning of the final response (Warning value: `mcpttWarning(host, warning)`). */
export interface FinalResponse {
  status: number;
  /** RFC 3261 §21 reason phrase. */
  reason: string;
  warning?: WarningCode;
}

const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  480: 'Temporarily Unavailable',
};

const withWarning = (status: number, warning: WarningCode | undefined): FinalResponse => {
  const out: FinalResponse = { status, reason: REASON_PHRASES[status] ?? 'Unknown' };
  if (warning !== undefined) out.warning = warning;
  return out;
};

/**
 * Maps the outcome of the call setup to the initiator's final response (see the module table).
 * @throws DomainError `bad_request` for a `wait` decision or an authorization success passed through
 *   a cast: neither ends the call setup.
 */
export function finalResponseFor(decision: FinalResponseInput): FinalResponse {
  if ('decision' in decision) {
    if (decision.decision === 'proceed') return withWarning(200, decision.warningCode);
    if (decision.decision === 'abandon') return withWarning(480, decision.warningCode);
    throw badRequest(
      `no final response for decision ${JSON.stringify((decision as { decision: string }).decision)}`,
    );
  }
  if ('ok' in decision && decision.ok === false && (decision.status === 403 || decision.status === 404)) {
    return withWarning(decision.status, decision.warningCode);
  }
  throw badRequest('no final response for an accepted authorization');
}
