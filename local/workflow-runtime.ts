/**
 * The call setup workflow of one local system, as in AWS: the state machine the stack defines
 * (lib/call-setup-asl.ts, built in a child process: call-setup-asl-child.ts) on the local Step Functions service, its interrogation queue on local SQS
 * (with a dead-letter queue), and a long-poll loop delivering SQS events to the interrogator, like an
 * event source mapping. The workflow's Lambda tasks run in the given handler (the call-setup-tasks function).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AslDefinition } from '../lib/call-setup-workflow.ts';
import { callSetupAslInChild } from './call-setup-asl-child.ts';
import { createQueue, startLocalSqs } from './sqs.ts';
import { type SqsBatchHandler, startSqsPoller } from './sqs-poller.ts';
import { type LocalLambdaHandler, startLocalStepFunctions } from './stepfunctions.ts';

export interface WorkflowRuntime {
  /** Step Functions endpoint for @aws-sdk/client-sfn (StartExecution, SendTaskSuccess, …). */
  sfnEndpoint: string;
  stateMachineArn: string;
  stop(): Promise<void>;
}

/**
 * aws-local-stepfunctions resolves `TimeoutSecondsPath` against the task's effective input (after
 * Parameters), Step Functions against the state's input. For tasks that pass the whole state as
 * `Payload.input` (AwaitResponses), the path is re-rooted there so both resolve the same value.
 */
export const rerootTimeoutPaths = (asl: AslDefinition): AslDefinition => {
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const state of Object.values(states)) {
      const params = state.Parameters as { Payload?: Record<string, unknown> } | undefined;
      const path = state.TimeoutSecondsPath;
      if (typeof path === 'string' && path.startsWith('$.') && params?.Payload?.['input.$'] === '$') {
        state.TimeoutSecondsPath = `$.Payload.input.${path.slice(2)}`;
      }
      const nested = (state.ItemProcessor ?? state.Iterator) as
        | { States?: Record<string, Record<string, unknown>> }
        | undefined;
      if (nested?.States) visit(nested.States);
    }
  };
  const copy = JSON.parse(JSON.stringify(asl)) as AslDefinition;
  visit(copy.States as unknown as Record<string, Record<string, unknown>>);
  return copy;
};

export const startWorkflowRuntime = async (opts: {
  name: string;
  /** The call-setup-tasks function. */
  tasks: LocalLambdaHandler;
  interrogator: SqsBatchHandler;
  partnerTimeoutSeconds?: number;
  /** TEST hook: the interrogation queue delivers every message twice (SqsPollerOptions.duplicateDeliveries). */
  duplicateSqsDeliveries?: boolean;
}): Promise<WorkflowRuntime> => {
  const { asl, tasksFunctionName, queueName } = await callSetupAslInChild(
    opts.partnerTimeoutSeconds ? { partnerTimeoutSeconds: opts.partnerTimeoutSeconds } : {},
  );
  const sqs = await startLocalSqs();
  const client = new SQSClient({
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const queue = await createQueue(client, queueName, {
    dlq: { name: `${queueName}-dlq`, maxReceiveCount: 3 },
  });
  const lambdas: Record<string, LocalLambdaHandler> = { [tasksFunctionName]: opts.tasks };
  const sfn = await startLocalStepFunctions({ sqs: client, lambdas });
  const stateMachineArn = sfn.createStateMachine(
    `call-setup-${opts.name.replace(/[^A-Za-z0-9-]/g, '-')}`,
    rerootTimeoutPaths(asl),
  );
  const poller = startSqsPoller({
    client,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    handler: opts.interrogator,
    duplicateDeliveries: opts.duplicateSqsDeliveries,
  });
  return {
    sfnEndpoint: sfn.endpoint,
    stateMachineArn,
    async stop() {
      await poller.stop();
      await sfn.close();
      client.destroy();
      await sqs.close();
    },
  };
};
