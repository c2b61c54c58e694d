/**
 * Member responses of the call setup (ARCHITECTURE.md step 5; TS 23.379 step 5; TS 24.379
 * §10.1.1.4.2): the edge reports each invited member's final answer (edge/control-api.ts leg report
 * `{ callId, legId, target, status, reason, warning?, body? }`). The answer moves the leg out of
 * `pending` once (CallStore.recordResponse: a duplicated report counts once), the commencement policy is
 * evaluated on the call's counters, and when it decides (`proceed` or `abandon`) the one writer that
 * wins `claimDecision` completes the workflow's AwaitResponses task with `{ decision }`.
 *
 * Answer → leg state: 2xx accepted; 480 / 486 / 487 / 603 (and a reason phrase saying "decline")
 * declined; any other final status failed.
 */
import { z } from 'zod';
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import { legCountsOf } from '#adapters/dynamo/call-store.ts';
import type { MetricsSink } from '#adapters/metrics.ts';
import type { WorkflowClient } from '#adapters/workflow-client.ts';
import {
  type CommencementDecision,
  evaluateCommencementCounts,
  type LegState,
} from '#core/commencement-policy.ts';
import { type MemberResponseClass, memberResponseClass } from '../../lib/metric-names.ts';

/** The leg report the edge POSTs to its `reportUrl` (extra outcome fields are ignored). */
export const LegReport = z.object({
  callId: z.string().min(1).max(256),
  legId: z.string().min(1).max(128),
  target: z.string().max(512).optional(),
  status: z.number().int().min(200).max(699),
  reason: z.string().max(256).optional(),
  warning: z.string().max(2048).optional(),
  body: z.string().optional(),
});
export type LegReport = z.infer<typeof LegReport>;

/** Final statuses that mean the member (or its UA) declined the invitation. */
export const DECLINE_STATUSES: ReadonlySet<number> = new Set([480, 486, 487, 603]);

/** The leg state of a final SIP answer. */
export const legStateOf = (status: number, reason?: string): Exclude<LegState, 'pending'> => {
  if (status >= 200 && status < 300) return 'accepted';
  if (DECLINE_STATUSES.has(status) || /\bdecline/i.test(reason ?? '')) return 'declined';
  return 'failed';
};

export interface MemberResponseDeps {
  calls: Pick<CallStore, 'recordResponses' | 'claimDecision'>;
  workflow: Pick<WorkflowClient, 'taskSucceeded'>;
  /** MemberResponses by class, once per leg (a duplicate is not counted). */
  metrics?: Pick<MetricsSink, 'add'>;
}

/**
 * The `Class` of a leg's final status: `timeout` when the member never answered — 408, the edge's own
 * answer at Timer B/C (edge/outbound-leg.ts), or 487 once the call setup was decided (the leg was still
 * ringing when the acknowledgement timer expired or the call ended, and was cancelled); otherwise the
 * status class.
 */
export const responseClassOf = (status: number, decided = false): MemberResponseClass =>
  status === 408 || (status === 487 && decided) ? 'timeout' : memberResponseClass(status);

export interface MemberResponseResult {
  /** False for a duplicated report or an unknown leg: nothing changed. */
  counted: boolean;
  state?: Exclude<LegState, 'pending'>;
  /** The commencement decision after this answer (when counted and the call has a policy). */
  decision?: CommencementDecision['decision'];
  /** True when this report completed the workflow's wait. */
  completed?: boolean;
}

/** Step Functions' answers to a task success for a wait that is over. */
const TASK_GONE: ReadonlySet<string> = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

/** Records one leg report and, when it decides the commencement, completes the wait (once). */
export const recordMemberResponse = async (
  report: LegReport,
  deps: MemberResponseDeps,
): Promise<MemberResponseResult> => {
  const [result] = await recordMemberResponses([report], deps);
  return result ?? { counted: false };
};

/**
 * Records a batch of leg reports (any calls): per call, one conditional write per leg and ONE counter
 * update for the batch, then the commencement decision once. Results in the reports' order.
 */
export const recordMemberResponses = async (
  reports: readonly LegReport[],
  deps: MemberResponseDeps,
): Promise<MemberResponseResult[]> => {
  const byCall = new Map<string, number[]>();
  reports.forEach((r, i) => {
    byCall.set(r.callId, [...(byCall.get(r.callId) ?? []), i]);
  });
  const results: MemberResponseResult[] = reports.map(() => ({ counted: false }));
  await Promise.all(
    [...byCall].map(async ([callId, indexes]) => {
      const outcomes = indexes.map((i) => {
        const r = reports[i] as LegReport;
        return {
          legId: r.legId,
          state: legStateOf(r.status, r.reason),
          status: r.status,
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
        };
      });
      const out = await recordLegOutcomes(callId, outcomes, deps);
      indexes.forEach((i, k) => {
        results[i] = out[k] ?? { counted: false };
      });
    }),
  );
  return results;
};

/**
 * Records one leg's outcome (a member's answer, or a leg that could not be sent) and, when it
 * decides the commencement, completes the wait (once).
 */
export const recordLegOutcome = async (
  callId: string,
  legId: string,
  answer: { state: Exclude<LegState, 'pending'>; status: number; reason?: string },
  deps: MemberResponseDeps,
): Promise<MemberResponseResult> => {
  const [result] = await recordLegOutcomes(callId, [{ legId, ...answer }], deps);
  return result ?? { counted: false };
};

/**
 * Records the outcomes of several legs of one call (a leg listed twice counts once) and evaluates the
 * commencement once on the counters after all of them; the one writer that wins `claimDecision`
 * completes the wait. The result of each outcome, in order; `completed` is set on the first counted one.
 */
export const recordLegOutcomes = async (
  callId: string,
  outcomes: readonly {
    legId: string;
    state: Exclude<LegState, 'pending'>;
    status: number;
    reason?: string;
  }[],
  deps: MemberResponseDeps,
): Promise<MemberResponseResult[]> => {
  const recorded = await deps.calls.recordResponses(callId, outcomes);
  const countedIds = new Set(recorded.counted.map((c) => c.legId));
  const { counters, call } = recorded;
  const taken = new Set<string>();
  const counted = outcomes.map((o) => {
    const first = countedIds.has(o.legId) && !taken.has(o.legId);
    if (first) taken.add(o.legId);
    return first;
  });
  for (const [i, o] of outcomes.entries()) {
    if (counted[i]) {
      deps.metrics?.add({ name: 'MemberResponses', class: responseClassOf(o.status, call.decided === true) });
    }
  }
  if (countedIds.size === 0) return outcomes.map(() => ({ counted: false }));
  let decision: CommencementDecision | undefined;
  let completed: boolean | undefined;
  if (call.policy !== undefined) {
    decision = evaluateCommencementCounts(call.policy, legCountsOf(counters), { timerExpired: false });
    if (decision.decision !== 'wait' && call.taskToken !== undefined) {
      completed = await deps.calls.claimDecision(callId);
      if (completed) {
        try {
          await deps.workflow.taskSucceeded(call.taskToken, { decision });
        } catch (e) {
          // The wait already ended (the acknowledgement timer expired, or the call was cancelled):
          // CompleteCallSetup decides from the legs as recorded; nothing is left to complete.
          if (!TASK_GONE.has((e as Error).name)) throw e;
          completed = false;
        }
      }
    }
  }
  let reported = false;
  return outcomes.map((o, i): MemberResponseResult => {
    if (!counted[i]) return { counted: false };
    const result: MemberResponseResult = {
      counted: true,
      state: o.state,
      ...(decision ? { decision: decision.decision } : {}),
    };
    if (completed !== undefined && !reported) {
      reported = true;
      result.completed = completed;
    }
    return result;
  });
};
