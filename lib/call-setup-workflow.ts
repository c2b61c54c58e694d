/**
 * The call setup workflow (ARCHITECTURE.md "The call setup workflow", steps 2–7): a Standard Step
 * Functions state machine (JSONPath) whose definition is also run locally (aws-local-stepfunctions)
 * through {@link definitionAsl}, so both runtimes execute the very same ASL.
 *
 * The Lambda tasks all run in one function (functions/call-setup-tasks/handler.ts), so one warm
 * container serves every step of a call: the payload is `{ task, input: <the state> }` with the
 * task's name from functions/call-setup-tasks/tasks.ts (and `taskToken` for InviteMembers).
 *
 * States, in order:
 * 1. `ResolveTemporaryGroup` — task; its result replaces the state (callId, tgi, policy,
 *    acknowledgementTimeoutSeconds, localMembers, partners — functions/workflow/resolve-temporary-group.ts).
 * 2. `InterrogatePartners` — Map over `$.partners` (no concurrency limit); per partner
 *    `InterrogatePartner`: SQS SendMessage `.waitForTaskToken` with
 *    `{ taskToken, callId, tgi, partner, groups }`, the interrogator's answer at `$.answer`, timeout
 *    {@link CallSetupWorkflowProps.partnerTimeoutSeconds}; any error (timeout, SendTaskFailure) goes to
 *    `PartnerUnavailable`: `{ partner, unavailable: true, reason: { Error, Cause } }`. Results at
 *    `$.interrogations`.
 * 3. `ApplyCommencementPolicy` — task, result at `$.policy` (`decision`, `acknowledgementTimeoutSeconds`).
 * 4. `CommencementDecision` — Choice: `$.policy.decision == 'reject'` → `CompleteCallSetup`,
 *    otherwise `AwaitResponses`.
 * 5. `AwaitResponses` — the InviteMembers step and the wait in one task: the InviteMembers task is
 *    invoked `.waitForTaskToken` with `{ task, taskToken, input: <the state> }`; it creates the call
 *    and legs, stores the token, then asks the edge(s) to send the INVITEs, so no member response can
 *    arrive before the token is stored. Timeout `$.policy.acknowledgementTimeoutSeconds` (TNG1); the
 *    task success output goes to `$.responses`. `States.Timeout` → `AcknowledgementTimerExpired`
 *    (Pass, `$.timerExpired = true`) → `CompleteCallSetup`.
 * 6. `CompleteCallSetup` — task; its result (the call setup complete result) is the execution's output.
 * 7. `Done` — Succeed.
 *
 * Every other task (`ResolveTemporaryGroup`, `InterrogatePartners`, `ApplyCommencementPolicy`,
 * `AwaitResponses`) catches `States.ALL` into `$.failure` (`{ Error, Cause }`) and goes to
 * `CompleteCallSetup`, so the caller always gets a final answer. (Step Functions never catches
 * `States.Runtime`, e.g. a missing JSONPath field; those fail the execution.)
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  CfnStateMachine,
  Choice,
  Condition,
  DefinitionBody,
  Errors,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  QueryLanguage,
  Result,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, SqsSendMessage } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import { CALL_SETUP_TASKS, type CallSetupTaskName } from '../functions/call-setup-tasks/tasks.ts';

/** Properties of {@link CallSetupWorkflow}. */
export interface CallSetupWorkflowProps {
  /** The function running every Lambda task (functions/call-setup-tasks/handler.ts). */
  readonly tasks: IFunction;
  /** The queue of partner interrogations (consumed by the interrogator function). */
  readonly interrogationQueue: IQueue;
  /**
   * How long one partner's interrogation may take before the partner is marked unavailable, seconds.
   * @default {@link DEFAULT_PARTNER_TIMEOUT_SECONDS}
   */
  readonly partnerTimeoutSeconds?: number;
}

/** Default of {@link CallSetupWorkflowProps.partnerTimeoutSeconds}. */
export const DEFAULT_PARTNER_TIMEOUT_SECONDS = 3;

/** The state names, in execution order (Map item states after their Map). */
export const STATE = {
  resolveTemporaryGroup: 'ResolveTemporaryGroup',
  interrogatePartners: 'InterrogatePartners',
  interrogatePartner: 'InterrogatePartner',
  partnerUnavailable: 'PartnerUnavailable',
  applyCommencementPolicy: 'ApplyCommencementPolicy',
  commencementDecision: 'CommencementDecision',
  awaitResponses: 'AwaitResponses',
  acknowledgementTimerExpired: 'AcknowledgementTimerExpired',
  completeCallSetup: 'CompleteCallSetup',
  done: 'Done',
} as const;

/** JSONPaths of the workflow state that the functions read or write. */
export const PATHS = {
  partners: '$.partners',
  interrogations: '$.interrogations',
  policy: '$.policy',
  decision: '$.policy.decision',
  acknowledgementTimeoutSeconds: '$.policy.acknowledgementTimeoutSeconds',
  responses: '$.responses',
  timerExpired: '$.timerExpired',
  failure: '$.failure',
} as const;

/** Value of `$.policy.decision` that skips the invitations. */
export const REJECT_DECISION = 'reject';

/** Region and account of the placeholder ARNs of {@link definitionAsl}. */
export const PLACEHOLDER_REGION = 'local';
export const PLACEHOLDER_ACCOUNT = '000000000000';

/** Placeholder ARN of the Lambda function with CloudFormation logical id `logicalId`. */
export const placeholderFunctionArn = (logicalId: string): string =>
  `arn:aws:lambda:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:function:${logicalId}`;
/** Placeholder URL of the SQS queue with CloudFormation logical id `logicalId`. */
export const placeholderQueueUrl = (logicalId: string): string =>
  `https://sqs.${PLACEHOLDER_REGION}.amazonaws.com/${PLACEHOLDER_ACCOUNT}/${logicalId}`;
/** Placeholder ARN of the SQS queue with CloudFormation logical id `logicalId`. */
export const placeholderQueueArn = (logicalId: string): string =>
  `arn:aws:sqs:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:${logicalId}`;

/** An Amazon States Language document (JSON). */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** The call setup state machine with its log group. Not wired into a stack by itself. */
export class CallSetupWorkflow extends Construct {
  /** The Standard state machine. */
  readonly stateMachine: StateMachine;
  /** Its execution log group (level ALL, execution data included). */
  readonly logGroup: LogGroup;
  private readonly tasks: IFunction;
  private readonly queue: IQueue;

  constructor(scope: Construct, id: string, props: CallSetupWorkflowProps) {
    super(scope, id);
    const { tasks, interrogationQueue } = props;
    this.tasks = tasks;
    this.queue = interrogationQueue;
    const partnerTimeout = props.partnerTimeoutSeconds ?? DEFAULT_PARTNER_TIMEOUT_SECONDS;
    if (!Number.isInteger(partnerTimeout) || partnerTimeout < 1) {
      throw new Error(`CallSetupWorkflow ${id}: partnerTimeoutSeconds must be a positive integer`);
    }

    const payloadOf = (task: CallSetupTaskName) =>
      TaskInput.fromObject({ task, input: JsonPath.entirePayload });
    const completeCallSetup = new LambdaInvoke(this, STATE.completeCallSetup, {
      lambdaFunction: tasks,
      payload: payloadOf(CALL_SETUP_TASKS.completeCallSetup),
      payloadResponseOnly: true,
    });
    completeCallSetup.next(new Succeed(this, STATE.done));
    const failTo = { errors: [Errors.ALL], resultPath: PATHS.failure };

    // 2. ResolveTemporaryGroup
    const resolve = new LambdaInvoke(this, STATE.resolveTemporaryGroup, {
      lambdaFunction: tasks,
      payload: payloadOf(CALL_SETUP_TASKS.resolveTemporaryGroup),
      payloadResponseOnly: true,
    });
    resolve.addCatch(completeCallSetup, failTo);

    // 3. InterrogatePartners
    const interrogatePartner = new SqsSendMessage(this, STATE.interrogatePartner, {
      queue: interrogationQueue,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: TaskInput.fromObject({
        taskToken: JsonPath.taskToken,
        callId: JsonPath.stringAt('$.callId'),
        tgi: JsonPath.stringAt('$.tgi'),
        partner: JsonPath.stringAt('$.partner'),
        groups: JsonPath.listAt('$.groups'),
      }),
      taskTimeout: Timeout.duration(Duration.seconds(partnerTimeout)),
      resultPath: '$.answer',
    });
    interrogatePartner.addCatch(
      new Pass(this, STATE.partnerUnavailable, {
        parameters: { 'partner.$': '$.partner', unavailable: true, 'reason.$': '$.error' },
      }),
      { errors: [Errors.ALL], resultPath: '$.error' },
    );
    const interrogatePartners = new MapState(this, STATE.interrogatePartners, {
      itemsPath: PATHS.partners,
      maxConcurrency: 0,
      resultPath: PATHS.interrogations,
    });
    interrogatePartners.itemProcessor(interrogatePartner);
    interrogatePartners.addCatch(completeCallSetup, failTo);

    // 4. ApplyCommencementPolicy
    const applyPolicy = new LambdaInvoke(this, STATE.applyCommencementPolicy, {
      lambdaFunction: tasks,
      payload: payloadOf(CALL_SETUP_TASKS.applyCommencementPolicy),
      payloadResponseOnly: true,
      resultPath: PATHS.policy,
    });
    applyPolicy.addCatch(completeCallSetup, failTo);

    // 5–6. InviteMembers + AwaitResponses
    const awaitResponses = new LambdaInvoke(this, STATE.awaitResponses, {
      lambdaFunction: tasks,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        task: CALL_SETUP_TASKS.inviteMembers,
        taskToken: JsonPath.taskToken,
        input: JsonPath.entirePayload,
      }),
      taskTimeout: Timeout.at(PATHS.acknowledgementTimeoutSeconds),
      resultPath: PATHS.responses,
    });
    awaitResponses.addCatch(
      new Pass(this, STATE.acknowledgementTimerExpired, {
        result: Result.fromBoolean(true),
        resultPath: PATHS.timerExpired,
      }).next(completeCallSetup),
      { errors: [Errors.TIMEOUT], resultPath: '$.timeout' },
    );
    awaitResponses.addCatch(completeCallSetup, failTo);

    const decision = new Choice(this, STATE.commencementDecision)
      .when(Condition.stringEquals(PATHS.decision, REJECT_DECISION), completeCallSetup)
      .otherwise(awaitResponses);
    awaitResponses.next(completeCallSetup);

    const definition = resolve.next(interrogatePartners).next(applyPolicy).next(decision);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: 'MCPTT call setup on a temporary group',
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
  }

  /**
   * The placeholder ARN/URL that {@link definitionAsl} puts in the ASL for this workflow's task
   * function and queue, so the local runtime can map them back to its handler and queue.
   */
  placeholders(): { tasksFunctionArn: string; queueUrl: string } {
    const stack = Stack.of(this);
    const idOf = (c: IConstruct): string => {
      const cfn = c.node.defaultChild;
      if (cfn === undefined) throw new Error(`${c.node.path} has no CloudFormation resource`);
      return stack.resolve((cfn as unknown as { logicalId: string }).logicalId) as string;
    };
    return {
      tasksFunctionArn: placeholderFunctionArn(idOf(this.tasks)),
      queueUrl: placeholderQueueUrl(idOf(this.queue)),
    };
  }
}

type ResourceTypes = Readonly<Record<string, string | undefined>>;

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': PLACEHOLDER_REGION,
  'AWS::AccountId': PLACEHOLDER_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves the CloudFormation intrinsics of `value` to placeholders (throws on anything else). */
function resolveIntrinsics(value: unknown, types: ResourceTypes): unknown {
  if (typeof value === 'string' || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, types));
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const [fn, arg] = first;
    if (fn === 'Fn::Join' && Array.isArray(arg) && arg.length === 2 && Array.isArray(arg[1])) {
      const parts = (arg[1] as unknown[]).map((p) => resolveIntrinsics(p, types));
      if (parts.some((p) => typeof p !== 'string')) throw new Error('Fn::Join of a non-string');
      return parts.join(String(arg[0]));
    }
    if (fn === 'Ref' && typeof arg === 'string') {
      const pseudo = PSEUDO[arg];
      if (pseudo !== undefined) return pseudo;
      if (types[arg] === 'AWS::SQS::Queue') return placeholderQueueUrl(arg);
      if (types[arg] === 'AWS::Lambda::Function') return arg;
    }
    if (fn === 'Fn::GetAtt' && Array.isArray(arg) && arg.length === 2) {
      const [id, attr] = arg as [string, string];
      if (types[id] === 'AWS::Lambda::Function' && attr === 'Arn') return placeholderFunctionArn(id);
      if (types[id] === 'AWS::SQS::Queue' && attr === 'Arn') return placeholderQueueArn(id);
      if (types[id] === 'AWS::SQS::Queue' && attr === 'QueueUrl') return placeholderQueueUrl(id);
    }
    throw new Error(`definitionAsl: unsupported intrinsic ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, types)]));
}

const parseAsl = (definitionString: unknown, types: ResourceTypes): AslDefinition => {
  const text = resolveIntrinsics(definitionString, types);
  if (typeof text !== 'string') throw new Error('definitionAsl: DefinitionString is not a string');
  return JSON.parse(text) as AslDefinition;
};

/**
 * The ASL of a state machine of a synthesized template (`cdk.out/<stack>.template.json`), with its
 * intrinsics resolved to placeholders ({@link placeholderFunctionArn}, {@link placeholderQueueUrl}).
 * @param logicalId - the state machine's logical id; optional when the template has exactly one.
 */
export function aslFromTemplate(
  template: { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> },
  logicalId?: string,
): AslDefinition {
  const resources = template.Resources ?? {};
  const machines = Object.entries(resources).filter(
    ([id, r]) =>
      r.Type === 'AWS::StepFunctions::StateMachine' && (logicalId === undefined || id === logicalId),
  );
  const [machine] = machines;
  if (machine === undefined || machines.length > 1) {
    throw new Error(
      `aslFromTemplate: expected one state machine${logicalId ? ` ${logicalId}` : ''}, found ${machines.length}`,
    );
  }
  const types = Object.fromEntries(Object.entries(resources).map(([id, r]) => [id, r.Type]));
  return parseAsl(machine[1].Properties?.DefinitionString, types);
}

/**
 * The ASL of a state machine of `stack` (without synthesizing the app), with its intrinsics resolved
 * to placeholders: the same document as {@link aslFromTemplate} on the synthesized template.
 * @param stateMachine - which one; optional when the stack has exactly one.
 */
export function definitionAsl(stack: Stack, stateMachine?: StateMachine | CallSetupWorkflow): AslDefinition {
  const target = stateMachine instanceof CallSetupWorkflow ? stateMachine.stateMachine : stateMachine;
  const cfnOf = (c: IConstruct): CfnStateMachine[] => (c instanceof CfnStateMachine ? [c] : []);
  const machines =
    target === undefined
      ? stack.node.findAll().flatMap(cfnOf)
      : cfnOf(target.node.defaultChild as IConstruct);
  const [machine] = machines;
  if (machine === undefined || machines.length > 1) {
    throw new Error(
      `definitionAsl: expected one state machine in ${stack.node.path}, found ${machines.length}`,
    );
  }
  const types: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    const r = c as unknown as { cfnResourceType?: unknown; logicalId?: unknown };
    if (typeof r.cfnResourceType === 'string' && r.logicalId !== undefined && Stack.of(c) === stack) {
      types[stack.resolve(r.logicalId) as string] = r.cfnResourceType;
    }
  }
  return parseAsl(stack.resolve(machine.definitionString), types);
}
