/** Functions → Step Functions: task token callbacks (the same SDK calls locally and in AWS). */
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';

export interface WorkflowClient {
  taskSucceeded(taskToken: string, output: unknown): Promise<void>;
  taskFailed(taskToken: string, error: string, cause: string): Promise<void>;
  /** Starts a workflow execution named `name` (idempotent per name in Step Functions). */
  startExecution(stateMachineArn: string, name: string, input: unknown): Promise<string>;
  /** Stops the execution named `name` of that state machine. */
  stopExecution(stateMachineArn: string, name: string, cause: string): Promise<void>;
}

export const createWorkflowClient = (opts: { endpoint?: string } = {}): WorkflowClient => {
  const client = new SFNClient(
    opts.endpoint
      ? {
          endpoint: opts.endpoint,
          region: 'local',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {},
  );
  return {
    async taskSucceeded(taskToken, output) {
      await client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    },
    async startExecution(stateMachineArn, name, input) {
      const out = await client.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return out.executionArn ?? '';
    },
    async stopExecution(stateMachineArn, name, cause) {
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      await client.send(new StopExecutionCommand({ executionArn, error: 'CallCancelled', cause }));
    },
    async taskFailed(taskToken, error, cause) {
      await client.send(
        new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32_768) }),
      );
    },
  };
};
