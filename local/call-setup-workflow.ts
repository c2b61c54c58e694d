/**
 * Binds the call setup workflow of one local system to the same use cases the Lambda tasks run:
 * ResolveTemporaryGroup, ApplyCommencementPolicy, InviteMembers (+ AwaitResponses), CompleteCallSetup,
 * and the partner interrogator behind the SQS queue. The functions then reach the workflow with the
 * same SDK calls as in AWS (StartExecution, SendTaskSuccess) at the local endpoint.
 */
import { createWorkflowClient } from '#adapters/workflow-client.ts';
import { depsFrom, buildHandler as interrogatorHandler } from '#functions/partner-interrogator/handler.ts';
import type { AppDeps } from '#functions/shared/deps.ts';
import { logger } from '#functions/shared/logger.ts';
import {
  applyCommencementPolicy,
  type CommencementPolicyInput,
} from '#functions/workflow/apply-commencement-policy.ts';
import { completeCallSetup } from '#functions/workflow/complete-call-setup.ts';
import { type InviteState, inviteMembers } from '#functions/workflow/invite-members.ts';
import { type ResolveInput, resolveTemporaryGroup } from '#functions/workflow/resolve-temporary-group.ts';
import type { ResolvedSystemConfig } from './config.ts';
import { createLambdaContext } from './lambda-context.ts';
import { startWorkflowRuntime, type WorkflowRuntime } from './workflow-runtime.ts';

/** How long the edge holds a group call INVITE for the workflow's final response. */
const HOLD_TIMEOUT_MS = 30_000;

export const startCallSetupWorkflow = async (
  cfg: ResolvedSystemConfig,
  deps: AppDeps,
  urls: { apiUrl: string },
): Promise<WorkflowRuntime> => {
  const calls = deps.calls;
  if (!calls) throw new Error('the call store is missing from the system dependencies');
  const edgeControl = deps.edge;
  if (!edgeControl) throw new Error('the edge control client is missing from the system dependencies');
  let interrogate: ReturnType<typeof interrogatorHandler> | undefined;
  const runtime = await startWorkflowRuntime({
    name: cfg.domain,
    partnerTimeoutSeconds: Math.max(1, Math.ceil(cfg.partnerTimeoutMs / 1000)),
    tasks: {
      resolveTemporaryGroup: async (event) => {
        const input = event as ResolveInput & { caller: string; startedAt: number };
        return {
          ...(await resolveTemporaryGroup(input, deps)),
          caller: input.caller,
          startedAt: input.startedAt,
        };
      },
      applyCommencementPolicy: async (state) => applyCommencementPolicy(state as CommencementPolicyInput),
      inviteMembers: async (event) => {
        const { taskToken, input } = event as { taskToken: string; input: InviteState };
        return inviteMembers(taskToken, input, {
          system: deps.system,
          store: deps.store,
          calls,
          originate: (req) => edgeControl.originate(req),
          reportUrl: `${urls.apiUrl}/edge/leg-results`,
          now: deps.now,
        });
      },
      completeCallSetup: async (state) => {
        try {
          return (
            await completeCallSetup(state as Parameters<typeof completeCallSetup>[0], {
              calls,
              edge: edgeControl,
              now: deps.now,
              system: deps.system,
            })
          ).result;
        } catch (e) {
          logger.error('CompleteCallSetup failed', { system: deps.system, reason: (e as Error).message });
          throw e;
        }
      },
    },
    interrogator: async (event) => {
      if (!interrogate) throw new Error('interrogator not ready');
      return interrogate(event, createLambdaContext('partner-interrogator'));
    },
  });
  deps.workflow = createWorkflowClient({ endpoint: runtime.sfnEndpoint });
  deps.callSetup = { stateMachineArn: runtime.stateMachineArn, holdTimeoutMs: HOLD_TIMEOUT_MS };
  interrogate = interrogatorHandler(async () => depsFrom(deps, runtime.sfnEndpoint));
  return runtime;
};
