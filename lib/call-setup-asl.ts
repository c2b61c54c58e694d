/**
 * The call setup workflow's ASL exactly as the stack defines it (lib/call-setup-workflow.ts), for the
 * local runtime: built on a throwaway stack, intrinsics resolved to placeholders. Returns the names
 * the ASL uses for each function and for the interrogation queue, so local handlers and the local
 * queue can be bound to them.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { type AslDefinition, CallSetupWorkflow, definitionAsl } from './call-setup-workflow.ts';

export interface LocalCallSetupAsl {
  asl: AslDefinition;
  /** The name the ASL uses for the call-setup-tasks function. */
  tasksFunctionName: string;
  queueName: string;
}

const lastSegment = (arnOrUrl: string): string => arnOrUrl.split(/[:/]/).pop() ?? arnOrUrl;

export const callSetupAsl = (opts: { partnerTimeoutSeconds?: number } = {}): LocalCallSetupAsl => {
  const stack = new Stack(new App(), 'LocalCallSetup');
  const workflow = new CallSetupWorkflow(stack, 'CallSetup', {
    tasks: new LambdaFunction(stack, 'CallSetupTasks', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler=async()=>({})'),
    }),
    interrogationQueue: new Queue(stack, 'Interrogations'),
    ...(opts.partnerTimeoutSeconds ? { partnerTimeoutSeconds: opts.partnerTimeoutSeconds } : {}),
  });
  const p = workflow.placeholders();
  return {
    asl: definitionAsl(stack, workflow),
    tasksFunctionName: lastSegment(p.tasksFunctionArn),
    queueName: lastSegment(p.queueUrl),
  };
};
