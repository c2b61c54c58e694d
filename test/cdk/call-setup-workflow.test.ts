import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALL_SETUP_TASKS } from '../../functions/call-setup-tasks/tasks.ts';
import {
  type AslDefinition,
  aslFromTemplate,
  CallSetupWorkflow,
  DEFAULT_PARTNER_TIMEOUT_SECONDS,
  definitionAsl,
  PATHS,
  placeholderFunctionArn,
  placeholderQueueUrl,
  REJECT_DECISION,
  STATE,
} from '../../lib/call-setup-workflow.ts';
import { cdkJsonFeatureFlags } from './fixture.ts';

type State = Record<string, unknown> & { Type: string; Next?: string; End?: boolean };
type Catcher = { ErrorEquals: string[]; ResultPath?: string; Next: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resource = { Type: string; Properties: Record<string, unknown> };

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

interface Fixture {
  stack: Stack;
  workflow: CallSetupWorkflow;
  /** Logical id of the call-setup-tasks function. */
  tasksId: string;
  queueId: string;
  template: Template;
  asl: AslDefinition;
}

/** A test stack with a dummy inline tasks function, a queue and the workflow. */
function build(opts: { partnerTimeoutSeconds?: number } = {}): Fixture {
  const app = new App({ context: cdkJsonFeatureFlags() });
  const stack = new Stack(app, 'WorkflowTest');
  const tasks = new LambdaFunction(stack, 'TasksFn', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async (e) => e;'),
  });
  const queue = new Queue(stack, 'Interrogations');
  const workflow = new CallSetupWorkflow(stack, 'CallSetup', {
    tasks,
    interrogationQueue: queue,
    ...(opts.partnerTimeoutSeconds === undefined
      ? {}
      : { partnerTimeoutSeconds: opts.partnerTimeoutSeconds }),
  });
  const id = (c: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(c.node.defaultChild as CfnElement);
  return {
    stack,
    workflow,
    tasksId: id(tasks),
    queueId: id(queue),
    template: Template.fromStack(stack),
    asl: definitionAsl(stack),
  };
}

const stateOf = (asl: { States: Record<string, unknown> }, name: string): State => {
  const s = asl.States[name];
  if (s === undefined) throw new Error(`no state ${name}`);
  return s as State;
};

/** Names of the states reachable from `state` in one step (Next, Default, Choices, Catch). */
const successors = (state: State): string[] => [
  ...(state.Next ? [state.Next] : []),
  ...(typeof state.Default === 'string' ? [state.Default] : []),
  ...((state.Choices as { Next: string }[] | undefined) ?? []).map((c) => c.Next),
  ...((state.Catch as Catcher[] | undefined) ?? []).map((c) => c.Next),
];

describe('Construct: CallSetupWorkflow', () => {
  let f: Fixture;
  beforeAll(() => {
    f = build();
  });

  describe('state machine', () => {
    it('is a Standard state machine with tracing and ALL-level logging to its log group', () => {
      f.template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      const logGroupId = f.stack.getLogicalId(f.workflow.logGroup.node.defaultChild as CfnElement);
      f.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: true,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
        },
      });
    });

    it('uses JSONPath', () => {
      expect(f.asl.QueryLanguage).toBe('JSONPath');
    });
  });

  describe('ASL', () => {
    it('has exactly the expected top-level states, starting at ResolveTemporaryGroup', () => {
      expect(f.asl.StartAt).toBe(STATE.resolveTemporaryGroup);
      expect(Object.keys(f.asl.States).sort()).toEqual(
        [
          'ResolveTemporaryGroup',
          'InterrogatePartners',
          'ApplyCommencementPolicy',
          'CommencementDecision',
          'AwaitResponses',
          'AcknowledgementTimerExpired',
          'CompleteCallSetup',
          'Done',
        ].sort(),
      );
    });

    it('runs the main path in order: resolve → interrogate → policy → decision → await → complete → done', () => {
      const order: string[] = [];
      let name: string | undefined = f.asl.StartAt;
      while (name !== undefined) {
        order.push(name);
        const s = stateOf(f.asl, name);
        name = s.Type === 'Choice' ? (s.Default as string) : s.Next;
      }
      expect(order).toEqual([
        'ResolveTemporaryGroup',
        'InterrogatePartners',
        'ApplyCommencementPolicy',
        'CommencementDecision',
        'AwaitResponses',
        'CompleteCallSetup',
        'Done',
      ]);
      expect(stateOf(f.asl, 'Done').Type).toBe('Succeed');
    });

    it.each([
      ['ResolveTemporaryGroup', CALL_SETUP_TASKS.resolveTemporaryGroup],
      ['ApplyCommencementPolicy', CALL_SETUP_TASKS.applyCommencementPolicy],
      ['CompleteCallSetup', CALL_SETUP_TASKS.completeCallSetup],
    ])('invokes the tasks function for %s with { task, input: $ } (payload response only)', (name, task) => {
      expect(stateOf(f.asl, name)).toMatchObject({
        Type: 'Task',
        Resource: placeholderFunctionArn(f.tasksId),
        Parameters: { task, 'input.$': '$' },
      });
    });

    it('keeps the resolved group as the state and ends CompleteCallSetup in Done', () => {
      expect(stateOf(f.asl, 'ResolveTemporaryGroup').ResultPath).toBeUndefined();
      expect(stateOf(f.asl, 'CompleteCallSetup').Next).toBe('Done');
    });

    it('maps over $.partners without concurrency limit, collecting to $.interrogations', () => {
      const map = stateOf(f.asl, 'InterrogatePartners');
      expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.partners', ResultPath: '$.interrogations' });
      // MaxConcurrency 0 (unlimited) is the ASL default; CDK omits it.
      expect(map.MaxConcurrency ?? 0).toBe(0);
      const processor = map.ItemProcessor as { StartAt: string; States: Record<string, unknown> };
      expect(processor.StartAt).toBe('InterrogatePartner');
      expect(Object.keys(processor.States).sort()).toEqual(['InterrogatePartner', 'PartnerUnavailable']);
    });

    it('sends each partner interrogation to the queue with .waitForTaskToken and the default timeout', () => {
      const processor = stateOf(f.asl, 'InterrogatePartners').ItemProcessor as AslDefinition;
      const task = stateOf(processor, 'InterrogatePartner');
      expect(task).toMatchObject({
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        TimeoutSeconds: DEFAULT_PARTNER_TIMEOUT_SECONDS,
        End: true,
        Parameters: {
          QueueUrl: placeholderQueueUrl(f.queueId),
          MessageBody: {
            'taskToken.$': '$$.Task.Token',
            'callId.$': '$.callId',
            'tgi.$': '$.tgi',
            'partner.$': '$.partner',
            'groups.$': '$.groups',
          },
        },
      });
      expect(DEFAULT_PARTNER_TIMEOUT_SECONDS).toBe(3);
    });

    it('marks a partner unavailable, with the reason, on any error of its interrogation', () => {
      const processor = stateOf(f.asl, 'InterrogatePartners').ItemProcessor as AslDefinition;
      expect(stateOf(processor, 'InterrogatePartner').Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'PartnerUnavailable' },
      ]);
      expect(stateOf(processor, 'PartnerUnavailable')).toEqual({
        Type: 'Pass',
        Parameters: { 'partner.$': '$.partner', unavailable: true, 'reason.$': '$.error' },
        End: true,
      });
    });

    it('takes partnerTimeoutSeconds as the per-partner timeout', () => {
      const g = build({ partnerTimeoutSeconds: 7 });
      const processor = stateOf(g.asl, 'InterrogatePartners').ItemProcessor as AslDefinition;
      expect(stateOf(processor, 'InterrogatePartner').TimeoutSeconds).toBe(7);
    });

    it.each([0, -1, 1.5])('rejects partnerTimeoutSeconds %s', (seconds) => {
      expect(() => build({ partnerTimeoutSeconds: seconds })).toThrow(/partnerTimeoutSeconds/);
    });

    it('applies the commencement policy, result at $.policy', () => {
      expect(stateOf(f.asl, 'ApplyCommencementPolicy')).toMatchObject({
        Type: 'Task',
        ResultPath: PATHS.policy,
        Next: 'CommencementDecision',
      });
    });

    it('branches on $.policy.decision: reject → CompleteCallSetup, otherwise AwaitResponses', () => {
      expect(stateOf(f.asl, 'CommencementDecision')).toEqual({
        Type: 'Choice',
        Choices: [
          { Variable: '$.policy.decision', StringEquals: REJECT_DECISION, Next: 'CompleteCallSetup' },
        ],
        Default: 'AwaitResponses',
      });
      expect(REJECT_DECISION).toBe('reject');
    });

    it('invites members and awaits the responses with .waitForTaskToken and a dynamic timeout', () => {
      expect(stateOf(f.asl, 'AwaitResponses')).toMatchObject({
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        TimeoutSecondsPath: '$.policy.acknowledgementTimeoutSeconds',
        ResultPath: '$.responses',
        Next: 'CompleteCallSetup',
        Parameters: {
          FunctionName: placeholderFunctionArn(f.tasksId),
          Payload: { task: CALL_SETUP_TASKS.inviteMembers, 'taskToken.$': '$$.Task.Token', 'input.$': '$' },
        },
      });
      expect(stateOf(f.asl, 'AwaitResponses').TimeoutSeconds).toBeUndefined();
    });

    it('goes to AcknowledgementTimerExpired on States.Timeout (before the catch-all), then completes', () => {
      const catchers = stateOf(f.asl, 'AwaitResponses').Catch as Catcher[];
      expect(catchers.map((c) => [c.ErrorEquals, c.Next])).toEqual([
        [['States.Timeout'], 'AcknowledgementTimerExpired'],
        [['States.ALL'], 'CompleteCallSetup'],
      ]);
      expect(stateOf(f.asl, 'AcknowledgementTimerExpired')).toEqual({
        Type: 'Pass',
        Result: true,
        ResultPath: '$.timerExpired',
        Next: 'CompleteCallSetup',
      });
    });

    it('ends every path in CompleteCallSetup → Done (no other terminal state)', () => {
      const terminals = Object.entries(f.asl.States).filter(([, s]) => successors(s as State).length === 0);
      expect(terminals.map(([name]) => name)).toEqual(['Done']);
      expect(Object.values(f.asl.States).some((s) => (s as State).Type === 'Fail')).toBe(false);
      // Every state reaches CompleteCallSetup.
      const reaches = (name: string, seen = new Set<string>()): boolean => {
        if (name === 'CompleteCallSetup') return true;
        if (seen.has(name)) return false;
        seen.add(name);
        const next = successors(stateOf(f.asl, name));
        return next.length > 0 && next.every((n) => reaches(n, seen));
      };
      for (const name of Object.keys(f.asl.States).filter((n) => n !== 'Done')) {
        expect(reaches(name), name).toBe(true);
      }
    });
  });

  describe('IAM', () => {
    const statementsOfStateMachineRole = (fx: Fixture): Statement[] => {
      const resources = fx.template.toJSON().Resources as Record<string, Resource>;
      const roleId = fx.stack.getLogicalId(fx.workflow.stateMachine.role.node.defaultChild as CfnElement);
      return Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) => JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`))
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    };
    const resourcesFor = (statements: Statement[], prefix: string): unknown[] =>
      statements
        .filter((s) => asArray(s.Action).some((a) => a.startsWith(prefix)))
        .flatMap((s) => asArray(s.Resource));
    const fnArns = (id: string) => [
      { 'Fn::GetAtt': [id, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, ':*']] },
    ];

    it('lets the state machine invoke exactly the tasks function', () => {
      const statements = statementsOfStateMachineRole(f);
      const lambdaStatements = statements.filter((s) =>
        asArray(s.Action).some((a) => a.startsWith('lambda:')),
      );
      expect(lambdaStatements.flatMap((s) => asArray(s.Action))).toEqual(
        Array(lambdaStatements.length).fill('lambda:InvokeFunction'),
      );
      const actual = resourcesFor(statements, 'lambda:');
      expect(actual).toHaveLength(2);
      expect(actual).toEqual(expect.arrayContaining(fnArns(f.tasksId)));
    });

    it('lets the state machine send messages to exactly the interrogation queue', () => {
      const statements = statementsOfStateMachineRole(f);
      const sqsStatements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('sqs:')));
      expect(sqsStatements.flatMap((s) => asArray(s.Action))).toEqual(['sqs:SendMessage']);
      expect(resourcesFor(statements, 'sqs:')).toEqual([{ 'Fn::GetAtt': [f.queueId, 'Arn'] }]);
    });

    it('grants nothing else on specific resources (only the log-delivery and X-Ray wildcards)', () => {
      const statements = statementsOfStateMachineRole(f);
      const other = statements.filter(
        (s) => !asArray(s.Action).some((a) => a.startsWith('lambda:') || a.startsWith('sqs:')),
      );
      for (const s of other) {
        expect(s.Resource).toBe('*');
        for (const a of asArray(s.Action)) expect(a).toMatch(/^(logs|xray):/);
      }
      expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    });

    it('is assumed by Step Functions only', () => {
      f.template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({ Action: 'sts:AssumeRole', Principal: { Service: 'states.amazonaws.com' } }),
          ],
        },
      });
    });
  });

  describe('definitionAsl(stack)', () => {
    it('is the synthesized template DefinitionString with placeholders (same as aslFromTemplate)', () => {
      expect(f.asl).toEqual(aslFromTemplate(f.template.toJSON()));
    });

    it('is plain JSON without any CloudFormation intrinsic or token left', () => {
      const text = JSON.stringify(f.asl);
      expect(JSON.parse(text)).toEqual(f.asl);
      expect(text).not.toMatch(/Fn::|"Ref"|\$\{Token\[|AWS::/);
    });

    it('uses the placeholder ARNs and queue URL of the workflow', () => {
      const text = JSON.stringify(f.asl);
      const { tasksFunctionArn, queueUrl } = f.workflow.placeholders();
      expect(tasksFunctionArn).toBe(placeholderFunctionArn(f.tasksId));
      expect(text).toContain(`"${tasksFunctionArn}"`);
      expect(queueUrl).toBe(`https://sqs.local.amazonaws.com/000000000000/${f.queueId}`);
      expect(text).toContain(`"${queueUrl}"`);
      expect(placeholderFunctionArn('X')).toBe('arn:aws:lambda:local:000000000000:function:X');
      expect(text).toContain('"arn:aws:states:::sqs:sendMessage.waitForTaskToken"');
    });

    it('selects the state machine when a stack has several, and refuses to guess', () => {
      const stack = new Stack(new App(), 'Two');
      const make = (id: string) =>
        new CallSetupWorkflow(stack, id, {
          tasks: new LambdaFunction(stack, `${id}Tasks`, {
            runtime: Runtime.NODEJS_22_X,
            handler: 'index.handler',
            code: Code.fromInline('exports.handler = async (e) => e;'),
          }),
          interrogationQueue: new Queue(stack, `${id}Queue`),
        });
      const a = make('A');
      const b = make('B');
      expect(() => definitionAsl(stack)).toThrow(/expected one state machine/);
      expect(() => aslFromTemplate(Template.fromStack(stack).toJSON())).toThrow(/expected one state machine/);
      const aslB = definitionAsl(stack, b);
      expect(JSON.stringify(aslB)).toContain(b.placeholders().queueUrl);
      expect(JSON.stringify(aslB)).not.toContain(a.placeholders().queueUrl);
      expect(definitionAsl(stack, a.stateMachine)).toEqual(
        aslFromTemplate(
          Template.fromStack(stack).toJSON(),
          stack.getLogicalId(a.stateMachine.node.defaultChild as CfnElement),
        ),
      );
    });
  });
});
