/**
 * Binds the call setup workflow of one local system to the handlers the stack deploys: the
 * call-setup-tasks function (ResolveTemporaryGroup, ApplyCommencementPolicy, InviteMembers +
 * AwaitResponses, CompleteCallSetup) and the partner interrogator behind the SQS queue. The functions
 * then reach the workflow with the same SDK calls as in AWS (StartExecution, SendTaskSuccess) at the
 * local endpoint.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createWorkflowClient } from '#adapters/workflow-client.ts';
import { buildHandler as callSetupTasksHandler, taskDepsFrom } from '#functions/call-setup-tasks/handler.ts';
import { depsFrom, buildHandler as interrogatorHandler } from '#functions/partner-interrogator/handler.ts';
import { type AppDeps, DEFAULT_HOLD_TIMEOUT_MS } from '#functions/shared/deps.ts';
import type { BundleHandler } from './bundles.ts';
import type { ResolvedSystemConfig } from './config.ts';
import { createLambdaContext } from './lambda-context.ts';
import { startWorkflowRuntime, type WorkflowRuntime } from './workflow-runtime.ts';

/**
 * The deployed bundles of the two functions (local/bundles.ts), used instead of the source modules;
 * they build their deps from their environment, so they are bound to this runtime through it.
 */
export interface WorkflowFunctionBundles {
  tasks: BundleHandler;
  interrogator: BundleHandler;
}

export const startCallSetupWorkflow = async (
  cfg: ResolvedSystemConfig,
  deps: AppDeps,
  urls: { apiUrl: string },
  test: { duplicateSqsDeliveries?: boolean } = {},
  bundles?: WorkflowFunctionBundles,
): Promise<WorkflowRuntime> => {
  const taskDeps = taskDepsFrom(deps, urls.apiUrl);
  const tasks = bundles?.tasks ?? callSetupTasksHandler(async () => taskDeps);
  let interrogate: ((event: SQSEvent, context: Context) => Promise<unknown>) | undefined =
    bundles?.interrogator;
  const runtime = await startWorkflowRuntime({
    name: cfg.domain,
    partnerTimeoutSeconds: Math.max(1, Math.ceil(cfg.partnerTimeoutMs / 1000)),
    duplicateSqsDeliveries: test.duplicateSqsDeliveries,
    tasks: (event) => tasks(event, createLambdaContext('call-setup-tasks')),
    interrogator: async (event) => {
      if (!interrogate) throw new Error('interrogator not ready');
      return (await interrogate(event, createLambdaContext('partner-interrogator'))) as
        | SQSBatchResponse
        | undefined;
    },
  });
  deps.workflow = createWorkflowClient({ endpoint: runtime.sfnEndpoint });
  deps.callSetup = { stateMachineArn: runtime.stateMachineArn, holdTimeoutMs: DEFAULT_HOLD_TIMEOUT_MS };
  interrogate ??= interrogatorHandler(async () => depsFrom(deps, runtime.sfnEndpoint));
  return runtime;
};
