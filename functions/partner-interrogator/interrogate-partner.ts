/**
 * Workflow step InterrogatePartners, one partner (ARCHITECTURE.md step 3; TS 23.379 steps 3–4):
 * an SQS message carries the task token; ask the partner's partner API for the affiliated members of
 * its constituent groups, and complete the task with them — or fail it with the partner's reason
 * (the workflow's Catch marks the partner unavailable and the call goes on if policy allows).
 */
import type { MetricsSink } from '#adapters/metrics.ts';
import type { PartnerClient } from '#adapters/partner-client.ts';
import type { WorkflowClient } from '#adapters/workflow-client.ts';
import { DomainError } from '#core/errors.ts';
import type { PartnerAgreement, SipUri, SystemDomain } from '#core/model.ts';
import { InterrogationResponse, interrogationPath } from '#core/partner-protocol.ts';

export interface InterrogationTask {
  taskToken: string;
  callId: string;
  tgi: SipUri;
  partner: SystemDomain;
  groups: SipUri[];
}

export interface InterrogatorDeps {
  partners: PartnerClient;
  workflow: Pick<WorkflowClient, 'taskSucceeded' | 'taskFailed'>;
  agreement(partner: SystemDomain): Promise<PartnerAgreement | undefined>;
  /**
   * PartnerInterrogationLatency per round trip to the partner (answered or not), and
   * PartnerInterrogationFailures once per interrogation that ended without an answer (the handler
   * flushes it after each batch).
   */
  metrics?: MetricsSink;
  /** Milliseconds clock of the latency; default `performance.now`. */
  clock?: () => number;
}

/** Error names the workflow's Catch sees (States.TaskFailed with this error). */
export const PARTNER_UNAVAILABLE = 'PartnerUnavailable';
export const PARTNER_REFUSED = 'PartnerRefused';

const reasonOf = (body: unknown, status: number): string =>
  body && typeof body === 'object' && 'message' in body && typeof body.message === 'string'
    ? body.message
    : `HTTP ${status}`;

/**
 * Asks the partner (one retry on a transport failure) and completes the task. Returns normally once
 * the task is completed either way; throws only when the workflow could not be told (the message is
 * then retried by SQS).
 */
export const interrogatePartner = async (task: InterrogationTask, deps: InterrogatorDeps): Promise<void> => {
  const agreement = await deps.agreement(task.partner);
  const clock = deps.clock ?? (() => performance.now());
  if (!agreement) {
    deps.metrics?.add({ name: 'PartnerInterrogationFailures' });
    await deps.workflow.taskFailed(task.taskToken, PARTNER_UNAVAILABLE, `no agreement with ${task.partner}`);
    return;
  }
  // Only the partner call is retried; telling the workflow happens once, outside the retry loop.
  let outcome: { ok: true; output: unknown } | { ok: false; error: string; cause: string } = {
    ok: false,
    error: PARTNER_UNAVAILABLE,
    cause: 'no answer',
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const started = clock();
    const roundTrip = () =>
      deps.metrics?.add({ name: 'PartnerInterrogationLatency', value: Math.round(clock() - started) });
    try {
      const res = await deps.partners.send(agreement, {
        method: 'POST',
        path: interrogationPath(),
        body: { callId: task.callId, tgi: task.tgi, groups: task.groups },
      });
      roundTrip();
      if (res.status === 200) {
        const parsed = InterrogationResponse.safeParse(res.body);
        outcome = parsed.success
          ? { ok: true, output: { partner: task.partner, ...parsed.data } }
          : { ok: false, error: PARTNER_UNAVAILABLE, cause: 'malformed interrogation answer' };
        break;
      }
      if (res.status < 500) {
        outcome = { ok: false, error: PARTNER_REFUSED, cause: reasonOf(res.body, res.status) };
        break;
      }
      outcome = { ok: false, error: PARTNER_UNAVAILABLE, cause: reasonOf(res.body, res.status) };
    } catch (e) {
      roundTrip();
      outcome = {
        ok: false,
        error: PARTNER_UNAVAILABLE,
        cause: e instanceof DomainError ? String(e.details?.reason ?? e.message) : (e as Error).message,
      };
    }
  }
  // A refusal (4xx) is an answer; no answer at all (timeout, network, 5xx, malformed) is a failure.
  if (!outcome.ok && outcome.error === PARTNER_UNAVAILABLE)
    deps.metrics?.add({ name: 'PartnerInterrogationFailures' });
  if (outcome.ok) await deps.workflow.taskSucceeded(task.taskToken, outcome.output);
  else await deps.workflow.taskFailed(task.taskToken, outcome.error, outcome.cause);
};
