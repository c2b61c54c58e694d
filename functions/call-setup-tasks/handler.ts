// functions/call-setup-tasks/handler.ts — the Lambda tasks of the call setup workflow, one function
// (one warm container serves every step of a call: one cold start at most per call, not four).
// The state machine passes `{ task, input }`; InviteMembers also gets the task token it stores.
import middy from '@middy/core';
import { z } from 'zod';
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import type { WorkflowClient } from '#adapters/workflow-client.ts';
import { ENV } from '../../lib/routes.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { once } from '../shared/http-function.ts';
import { logger, withLogContext } from '../shared/logger.ts';
import {
  applyCommencementPolicy,
  type CommencementPolicyInput,
} from '../workflow/apply-commencement-policy.ts';
import { type CompleteCallSetupState, completeCallSetup } from '../workflow/complete-call-setup.ts';
import { type InviteState, inviteMembers } from '../workflow/invite-members.ts';
import { type ResolveInput, resolveTemporaryGroup } from '../workflow/resolve-temporary-group.ts';
import { CALL_SETUP_TASKS } from './tasks.ts';

/** What the tasks need: the system's store, its call store, its SIP edge and where legs report. */
export interface CallSetupTaskDeps {
  app: AppDeps;
  calls: CallStore;
  /**
   * The edge task at a call's `edgeUrl` (the one holding its INVITE and legs); the default edge
   * (`EDGE_CONTROL_URL`) when the call names none.
   */
  edgeFor(url?: string): EdgeControl;
  /** Where the edge reports each leg's final answer: the member-response route of the system's API. */
  reportUrl: string;
  /** Task callbacks (when the legs that could not be sent decide the commencement). */
  workflow: Pick<WorkflowClient, 'taskSucceeded'>;
}

/** The deps of a deployed task function: {@link depsFromEnv} plus `API_URL`. */
export const taskDepsFrom = (app: AppDeps, apiUrl: string | undefined): CallSetupTaskDeps => {
  if (!app.calls) throw new Error('the call store is not configured');
  const { edge, edgeFor } = app;
  if (!edge || !edgeFor)
    throw new Error(`the SIP edge control API is not configured (${ENV.edgeControlUrl})`);
  if (!apiUrl) throw new Error(`missing environment variable ${ENV.apiUrl}`);
  return {
    app,
    calls: app.calls,
    edgeFor,
    reportUrl: `${apiUrl.replace(/\/+$/, '')}/edge/leg-results`,
    // Read when used: the local runtime sets the client once its Step Functions endpoint is up.
    workflow: {
      taskSucceeded: (token, output) => {
        if (!app.workflow) throw new Error('the workflow client is not configured');
        return app.workflow.taskSucceeded(token, output);
      },
    },
  };
};

const Event = z.discriminatedUnion('task', [
  z.object({ task: z.literal(CALL_SETUP_TASKS.resolveTemporaryGroup), input: z.looseObject({}) }),
  z.object({ task: z.literal(CALL_SETUP_TASKS.applyCommencementPolicy), input: z.looseObject({}) }),
  z.object({
    task: z.literal(CALL_SETUP_TASKS.inviteMembers),
    taskToken: z.string().min(1),
    input: z.looseObject({}),
  }),
  z.object({ task: z.literal(CALL_SETUP_TASKS.completeCallSetup), input: z.looseObject({}) }),
]);
export type CallSetupTaskEvent = z.infer<typeof Event>;

/** Runs one task; its return value is the task's result in the workflow state. */
export const runCallSetupTask = async (raw: unknown, deps: CallSetupTaskDeps): Promise<unknown> => {
  const parsed = Event.safeParse(raw);
  if (!parsed.success) {
    // A state machine that does not match this function is a deployment error: fail the task loudly.
    throw new Error(`call-setup-tasks: malformed task event: ${z.prettifyError(parsed.error)}`);
  }
  const event = parsed.data;
  const { app } = deps;
  switch (event.task) {
    case CALL_SETUP_TASKS.resolveTemporaryGroup: {
      const input = event.input as unknown as ResolveInput & {
        caller: string;
        startedAt: number;
        edgeUrl?: unknown;
      };
      // The result replaces the state: what later tasks need of the execution input is passed on,
      // among it the edge task holding the call (`edgeUrl`, absent for a call from an edge that did
      // not name itself).
      return {
        ...(await resolveTemporaryGroup(input, app)),
        caller: input.caller,
        startedAt: input.startedAt,
        ...(typeof input.edgeUrl === 'string' ? { edgeUrl: input.edgeUrl } : {}),
      };
    }
    case CALL_SETUP_TASKS.applyCommencementPolicy:
      return applyCommencementPolicy(event.input as unknown as CommencementPolicyInput);
    case CALL_SETUP_TASKS.inviteMembers:
      return inviteMembers(event.taskToken, event.input as unknown as InviteState, {
        system: app.system,
        store: app.store,
        calls: deps.calls,
        originate: (req, edgeUrl) => deps.edgeFor(edgeUrl).originate(req),
        reportUrl: deps.reportUrl,
        workflow: deps.workflow,
        metrics: app.metrics,
        now: app.now,
      });
    case CALL_SETUP_TASKS.completeCallSetup: {
      const state = event.input as unknown as CompleteCallSetupState;
      try {
        const out = await completeCallSetup(state, {
          calls: deps.calls,
          edgeFor: (url) => deps.edgeFor(url),
          now: app.now,
          system: app.system,
          metrics: app.metrics,
        });
        return out.result;
      } catch (e) {
        logger.error('CompleteCallSetup failed', {
          system: app.system,
          callId: state.callId,
          reason: (e as Error).message,
        });
        throw e;
      }
    }
  }
};

export const buildHandler = (
  deps: () => Promise<CallSetupTaskDeps> = once(async () =>
    taskDepsFrom(await depsFromEnv(), process.env[ENV.apiUrl]),
  ),
) =>
  middy<unknown, unknown>().handler(async (event) => {
    const d = await deps();
    // Every log line of the task carries the call, its TGI and the task.
    const input = (event as { task?: unknown; input?: { callId?: unknown; tgi?: unknown } } | null) ?? {};
    const fields = { task: input.task, callId: input.input?.callId, tgi: input.input?.tgi };
    return withLogContext(fields, async () => {
      try {
        return await runCallSetupTask(event, d);
      } finally {
        d.app.metrics?.flush();
      }
    });
  });

export const handler = buildHandler();
