/**
 * The call setup workflow's ASL exactly as the stack defines it (lib/call-setup-workflow.ts), for the
 * local runtime: built on a throwaway stack, intrinsics resolved to placeholders. Returns the names
 * the ASL uses for each function and for the interrogation queue, so local handlers and the local
 * queue can be bound to them.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import {
  type AslDefinition,
  CallSetupWorkflow,
  type CallSetupWorkflowFunctions,
  definitionAsl,
} from './call-setup-workflow.ts';

export interface LocalCallSetupAsl {
  asl: AslDefinition;
  functionNames: Record<keyof CallSetupWorkflowFunctions, string>;
  queueName: string;
}

const lastSegment = (arnOrUrl: string): string => arnOrUrl.split(/[:/]/).pop() ?? arnOrUrl;

export const callSetupAsl = (opts: { partnerTimeoutSeconds?: number } = {}): LocalCallSetupAsl => {
  const stack = new Stack(new App(), 'LocalCallSetup');
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler=async()=>({})'),
    });
  const workflow = new CallSetupWorkflow(stack, 'CallSetup', {
    functions: {
      resolveTemporaryGroup: fn('ResolveTemporaryGroup'),
      applyCommencementPolicy: fn('ApplyCommencementPolicy'),
      inviteMembers: fn('InviteMembers'),
      completeCallSetup: fn('CompleteCallSetup'),
    },
    interrogationQueue: new Queue(stack, 'Interrogations'),
    ...(opts.partnerTimeoutSeconds ? { partnerTimeoutSeconds: opts.partnerTimeoutSeconds } : {}),
  });
  const p = workflow.placeholders();
  const name = (k: keyof CallSetupWorkflowFunctions) => lastSegment(p.functions[k] ?? '');
  return {
    asl: definitionAsl(stack, workflow),
    functionNames: {
      resolveTemporaryGroup: name('resolveTemporaryGroup'),
      applyCommencementPolicy: name('applyCommencementPolicy'),
      inviteMembers: name('inviteMembers'),
      completeCallSetup: name('completeCallSetup'),
    },
    queueName: lastSegment(p.queueUrl),
  };
};
