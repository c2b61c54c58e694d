import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, type LocalSqs, startLocalSqs } from '../../../local/sqs.ts';
import { type SqsPoller, startSqsPoller } from '../../../local/sqs-poller.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../../local/stepfunctions.ts';

const region = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Lambda task → Map over `items`, each item sent to SQS with a task token and awaited. */
const fanoutDefinition = (queueUrl: string, timeoutSeconds: number) => ({
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: `arn:aws:lambda:${region}:000000000000:function:prepare`,
        'Payload.$': '$',
      },
      ResultSelector: { 'items.$': '$.Payload.items', 'mode.$': '$.Payload.mode' },
      Next: 'Fanout',
    },
    Fanout: {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemSelector: { 'value.$': '$$.Map.Item.Value', 'mode.$': '$.mode' },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'Ask',
        States: {
          Ask: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
            Parameters: {
              QueueUrl: queueUrl,
              MessageBody: {
                'token.$': '$$.Task.Token',
                'value.$': '$.value',
                'mode.$': '$.mode',
                'execution.$': '$$.Execution.Id',
              },
            },
            TimeoutSeconds: timeoutSeconds,
            Catch: [
              { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' },
              { ErrorEquals: ['Rejected'], ResultPath: '$.error', Next: 'Refused' },
            ],
            End: true,
          },
          TimedOut: {
            Type: 'Pass',
            Parameters: { 'value.$': '$.value', outcome: 'timeout', 'error.$': '$.error.Error' },
            End: true,
          },
          Refused: {
            Type: 'Pass',
            Parameters: { 'value.$': '$.value', outcome: 'refused', 'cause.$': '$.error.Cause' },
            End: true,
          },
        },
      },
      ResultPath: '$.answers',
      End: true,
    },
  },
});

/** One Lambda `.waitForTaskToken` task. */
const approvalDefinition = {
  StartAt: 'Approve',
  States: {
    Approve: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'approver', Payload: { 'token.$': '$$.Task.Token', 'who.$': '$.who' } },
      HeartbeatSeconds: 5,
      TimeoutSeconds: 5,
      End: true,
    },
  },
};

describe('local Step Functions with local SQS', () => {
  let sqs: LocalSqs;
  let sfn: LocalStepFunctions;
  let sqsClient: SQSClient;
  let sfnClient: SFNClient;
  let poller: SqsPoller;
  let fanoutArn: string;
  let fanoutShortArn: string;
  let approvalArn: string;
  const received: SQSEvent['Records'] = [];
  const prepared: unknown[] = [];

  beforeAll(async () => {
    sqs = await startLocalSqs();
    sqsClient = new SQSClient({ endpoint: sqs.endpoint, region, credentials });
    const queue = await createQueue(sqsClient, 'asks', { dlq: { name: 'asks-dlq', maxReceiveCount: 3 } });
    sfn = await startLocalStepFunctions({
      sqs: sqsClient,
      lambdas: {
        prepare: async (event) => {
          prepared.push(event);
          const e = event as { items: number[]; mode: string };
          if (e.mode === 'crash') throw new TypeError('bad input');
          return { items: e.items, mode: e.mode };
        },
        approver: async (event) => {
          const { token, who } = event as { token: string; who: string };
          // Answer later, through the SDK, like an external approver.
          setTimeout(() => {
            void (async () => {
              await sfnClient.send(new SendTaskHeartbeatCommand({ taskToken: token }));
              await sfnClient.send(
                new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ approvedBy: who }) }),
              );
            })();
          }, 20);
        },
      },
    });
    sfnClient = new SFNClient({ endpoint: sfn.endpoint, region, credentials });
    // The consumer: a real SQSEvent handler answering through @aws-sdk/client-sfn.
    poller = startSqsPoller({
      client: sqsClient,
      queueUrl: queue.queueUrl,
      queueArn: queue.queueArn,
      handler: async (event) => {
        for (const r of event.Records) {
          received.push(r);
          const body = JSON.parse(r.body) as { token: string; value: number; mode: string };
          if (body.mode === 'answer') {
            await sfnClient.send(
              new SendTaskSuccessCommand({
                taskToken: body.token,
                output: JSON.stringify({ got: body.value * 10 }),
              }),
            );
          } else if (body.mode === 'refuse') {
            await sfnClient.send(
              new SendTaskFailureCommand({
                taskToken: body.token,
                error: 'Rejected',
                cause: `no ${body.value}`,
              }),
            );
          }
          // 'ignore': never answers.
        }
        return { batchItemFailures: [] };
      },
    });
    fanoutArn = sfn.createStateMachine('fanout', fanoutDefinition(queue.queueUrl, 5));
    // An AWS-style queue URL: the service looks the queue up by name.
    fanoutShortArn = sfn.createStateMachine(
      'fanout-short',
      fanoutDefinition('https://sqs.us-east-1.amazonaws.com/123456789012/asks', 1),
    );
    approvalArn = sfn.createStateMachine('approval', approvalDefinition);
  });

  afterAll(async () => {
    await poller?.stop();
    await sfn?.close();
    await sqs?.close();
    sfnClient?.destroy();
    sqsClient?.destroy();
  });

  const start = async (stateMachineArn: string, input: unknown, name?: string): Promise<string> => {
    const res = await sfnClient.send(
      new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input), ...(name ? { name } : {}) }),
    );
    expect(res.startDate).toBeInstanceOf(Date);
    return res.executionArn ?? '';
  };

  const settled = async (executionArn: string): Promise<DescribeExecutionCommandOutput> => {
    for (;;) {
      const d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING') return d;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('runs a Lambda task then a Map of sqs:sendMessage.waitForTaskToken answered with SendTaskSuccess', async () => {
    const arn = await start(fanoutArn, { items: [1, 2], mode: 'answer' }, 'happy');
    expect(arn).toBe(`arn:aws:states:${region}:000000000000:execution:fanout:happy`);
    const d = await settled(arn);
    expect(d.status).toBe('SUCCEEDED');
    expect(d.stateMachineArn).toBe(fanoutArn);
    expect(d.name).toBe('happy');
    expect(d.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(d.input ?? '')).toEqual({ items: [1, 2], mode: 'answer' });
    expect(JSON.parse(d.output ?? '')).toEqual({
      items: [1, 2],
      mode: 'answer',
      answers: [{ got: 10 }, { got: 20 }],
    });
    expect(prepared).toContainEqual({ items: [1, 2], mode: 'answer' });
    const mine = received.filter((r) => JSON.parse(r.body).execution === arn);
    expect(mine).toHaveLength(2);
    for (const r of mine) {
      expect(r.eventSource).toBe('aws:sqs');
      expect(r.eventSourceARN).toBe(`arn:aws:sqs:${region}:000000000000:asks`);
      expect(r.awsRegion).toBe(region);
      expect(r.attributes.ApproximateReceiveCount).toBe('1');
      expect(r.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
      expect(JSON.parse(r.body).token).toMatch(/^LOCALSFN\./);
    }
    // The token is spent: a second answer is refused as AWS does.
    const token = JSON.parse(mine[0]?.body ?? '{}').token as string;
    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('goes through the Catch path when nobody answers within TimeoutSeconds', async () => {
    const t0 = Date.now();
    const arn = await start(fanoutShortArn, { items: [7, 8], mode: 'ignore' });
    const d = await settled(arn);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output ?? '').answers).toEqual([
      { value: 7, outcome: 'timeout', error: 'States.Timeout' },
      { value: 8, outcome: 'timeout', error: 'States.Timeout' },
    ]);
    // A late answer: the task timed out.
    const late = received.find((r) => JSON.parse(r.body).execution === arn);
    const token = JSON.parse(late?.body ?? '{}').token as string;
    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('catches SendTaskFailure by its error name, with its cause', async () => {
    const d = await settled(await start(fanoutArn, { items: [3, 4], mode: 'refuse' }));
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output ?? '').answers).toEqual([
      { value: 3, outcome: 'refused', cause: 'no 3' },
      { value: 4, outcome: 'refused', cause: 'no 4' },
    ]);
  });

  it('reports a Lambda error as the execution error (errorType, Cause = error JSON)', async () => {
    const d = await settled(await start(fanoutArn, { items: [], mode: 'crash' }));
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('TypeError');
    expect(JSON.parse(d.cause ?? '')).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad input' });
  });

  it('stops a waiting execution with StopExecution', async () => {
    const arn = await start(fanoutArn, { items: [5], mode: 'ignore' });
    while (!received.some((r) => JSON.parse(r.body).execution === arn))
      await new Promise((r) => setTimeout(r, 10));
    const stop = await sfnClient.send(
      new StopExecutionCommand({ executionArn: arn, error: 'Bye', cause: 'test' }),
    );
    expect(stop.stopDate).toBeInstanceOf(Date);
    const d = await settled(arn);
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Bye', cause: 'test' });
    const token = JSON.parse(received.find((r) => JSON.parse(r.body).execution === arn)?.body ?? '{}').token;
    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('runs lambda:invoke.waitForTaskToken with heartbeat and success', async () => {
    const d = await settled(await start(approvalArn, { who: 'alice' }));
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output ?? '')).toEqual({ approvedBy: 'alice' });
  });

  it('answers API errors like Step Functions', async () => {
    await expect(
      sfnClient.send(
        new DescribeExecutionCommand({ executionArn: `${fanoutArn.replace('stateMachine', 'execution')}:x` }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    await expect(
      sfnClient.send(new StartExecutionCommand({ stateMachineArn: `${fanoutArn}-nope`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      sfnClient.send(new StartExecutionCommand({ stateMachineArn: fanoutArn, input: '{' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(start(fanoutArn, { items: [], mode: 'answer' }, 'happy')).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken: 'junk', output: '{}' })),
    ).rejects.toMatchObject({
      name: 'InvalidToken',
    });
  });

  it('refuses a definition with a Task resource it cannot run', () => {
    expect(() =>
      sfn.createStateMachine('bad', {
        StartAt: 'T',
        States: { T: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true } },
      }),
    ).toThrow(/cannot run locally/);
  });
});

describe('local Step Functions: finished executions are forgotten after the retention', () => {
  let sfn: LocalStepFunctions;
  let sfnClient: SFNClient;
  let arn: string;
  const tokens: string[] = [];

  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      executionRetentionMs: 300,
      lambdas: {
        approver: async (event) => {
          tokens.push((event as { token: string }).token);
        },
      },
    });
    sfnClient = new SFNClient({ endpoint: sfn.endpoint, region, credentials });
    arn = sfn.createStateMachine('approval', approvalDefinition);
  });

  afterAll(async () => {
    await sfn?.close();
    sfnClient?.destroy();
  });

  it('describes it, keeps its name and answers its token TaskTimedOut until then; then none of it', async () => {
    const { executionArn } = sfn.startExecution(arn, { who: 'alice' }, 'once');
    while (tokens.length === 0) await new Promise((r) => setTimeout(r, 5));
    const taskToken = tokens[0] ?? '';
    await sfnClient.send(new SendTaskSuccessCommand({ taskToken, output: '{"ok":true}' }));
    expect((await sfn.waitForExecution(executionArn)).status).toBe('SUCCEEDED');

    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
    expect(() => sfn.startExecution(arn, { who: 'bob' }, 'once')).toThrow(/Execution Already Exists/);
    expect(sfn.describeExecution(executionArn).output).toBe('{"ok":true}');

    await new Promise((r) => setTimeout(r, 400));
    expect(() => sfn.describeExecution(executionArn)).toThrow(/Execution Does Not Exist/);
    await expect(
      sfnClient.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
    // The name is free again.
    expect(sfn.startExecution(arn, { who: 'bob' }, 'once').executionArn).toBe(executionArn);
  });
});
