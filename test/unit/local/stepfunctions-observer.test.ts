// The execution observer of the local Step Functions (used by `npm run bench` for per-state times).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  executionObservers,
  type LocalExecutionEvent,
  type LocalStepFunctions,
  startLocalStepFunctions,
} from '../../../local/stepfunctions.ts';

const definition = {
  StartAt: 'First',
  States: {
    First: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:first', Next: 'Items' },
    Items: {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'Each',
        States: { Each: { Type: 'Pass', End: true } },
      },
      ResultPath: '$.done',
      Next: 'Last',
    },
    Last: { Type: 'Succeed' },
  },
};

describe('local Step Functions: execution observers', () => {
  let sfn: LocalStepFunctions;
  beforeAll(async () => {
    sfn = await startLocalStepFunctions({
      lambdas: {
        first: async () => {
          await new Promise((r) => setTimeout(r, 20));
          return { items: [1, 2] };
        },
      },
    });
  });
  afterAll(async () => {
    await sfn.close();
  });

  it('sees the start and end, every state entered and exited (Map iterations with their index) and each Lambda invocation, in time order', async () => {
    const arn = sfn.createStateMachine('observed', definition);
    const events: LocalExecutionEvent[] = [];
    const observer = (e: LocalExecutionEvent) => events.push(e);
    executionObservers.add(observer);
    try {
      const { executionArn } = sfn.startExecution(arn, {});
      expect((await sfn.waitForExecution(executionArn)).status).toBe('SUCCEEDED');
      await new Promise((r) => setTimeout(r, 20)); // the state event log is forwarded asynchronously
      const mine = events.filter((e) => e.executionArn === executionArn);
      expect(mine[0]?.type).toBe('ExecutionStarted');
      expect(mine.some((e) => e.type === 'ExecutionEnded' && e.status === 'SUCCEEDED')).toBe(true);
      const entered = mine.flatMap((e) => (e.type === 'StateEntered' ? [`${e.state}${e.index ?? ''}`] : []));
      expect(entered).toEqual(expect.arrayContaining(['First', 'Items', 'Each0', 'Each1', 'Last']));
      const invoked = mine.find((e) => e.type === 'LambdaInvoked');
      const returned = mine.find((e) => e.type === 'LambdaReturned');
      expect(invoked).toMatchObject({ state: 'First', functionName: 'first' });
      expect((returned?.timestamp ?? 0) - (invoked?.timestamp ?? 0)).toBeGreaterThanOrEqual(15);
    } finally {
      executionObservers.delete(observer);
    }
  });
});
