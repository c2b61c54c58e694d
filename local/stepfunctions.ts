/**
 * Step Functions for the local runtime: runs ASL definitions (Standard, JSONPath, as CDK synthesizes
 * them) with aws-local-stepfunctions, and serves the Step Functions JSON protocol (AWS JSON 1.0) on
 * loopback so that `@aws-sdk/client-sfn` with `endpoint` works unchanged.
 *
 * Task resources (resolved when the state machine is created; anything else is refused):
 * - `arn:aws:lambda:<region>:<account>:function:<name>` and `arn:aws:states:::lambda:invoke`: the
 *   local handler registered for the function name (`Lambda.Invoke` result shape for the latter);
 * - `arn:aws:states:::lambda:invoke.waitForTaskToken`: invokes the handler, then waits for the token;
 * - `arn:aws:states:::sqs:sendMessage` and `arn:aws:states:::sqs:sendMessage.waitForTaskToken`:
 *   SendMessage to the local SQS (queue looked up by the name at the end of `QueueUrl`, so AWS-style
 *   URLs work too), then, for the latter, waits for the token;
 * - any state named in `taskHandlers` (aws-local-stepfunctions' `taskResourceLocalHandlers`).
 *
 * How `.waitForTaskToken` is done — aws-local-stepfunctions has no task-token support, and its local
 * handlers (`taskResourceLocalHandlers`, keyed by state name, also inside Map/Parallel) receive only
 * the state's effective input (after InputPath and Parameters):
 * 1. Each execution runs with a Context Object whose `Task.Token` is a per-service sentinel string,
 *    so `"x.$": "$$.Task.Token"` (also inside `States.Format`/`States.JsonToString`) evaluates to it.
 * 2. The local handler of the state mints a fresh token, replaces the sentinel in every string of
 *    its input (deeply), performs the integration (SendMessage / Lambda invoke), registers the token
 *    and returns a promise settled by SendTaskSuccess (output) / SendTaskFailure (error named
 *    `error`, message `cause`, so Retry/Catch match `error`).
 * 3. TimeoutSeconds is enforced by the library (it races the handler and throws `States.Timeout`,
 *    catchable); the service drops the token at the same time (later calls: `TaskTimedOut`). Task
 *    states without TimeoutSeconds/TimeoutSecondsPath get 2147483 s (the library's default would be
 *    60 s; AWS has none). HeartbeatSeconds fails the task with `States.HeartbeatTimeout` unless a
 *    SendTaskHeartbeat comes in time.
 *
 * Differences from AWS: the Context Object has Execution (Id, Name, Input, StartTime, RoleArn),
 * StateMachine and Task.Token only (in Map iterations `Execution.Input` is the item); no
 * GetExecutionHistory (an in-process observer, {@link executionObservers}, sees the timed events
 * instead); executions are kept in memory, and forgotten {@link EXECUTION_RETENTION_MS} after they end
 * (AWS: 90 days); a token whose state timed out through TimeoutSecondsPath
 * stays valid until the execution ends; `States.TaskFailed` in Retry/Catch also matches
 * `States.HeartbeatTimeout`.
 */
import './polyfills.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetQueueUrlCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from 'aws-local-stepfunctions';

/** A JSON value as the library handles it. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A local Lambda function: receives the event, returns the result (thrown errors = function errors). */
export type LocalLambdaHandler = (event: unknown) => unknown;

/** A local replacement for one Task state: receives the state's effective input, returns its result. */
export type LocalTaskHandler = (input: unknown) => unknown;

/** Options of {@link startLocalStepFunctions}. */
export interface LocalStepFunctionsOptions {
  /** Port on 127.0.0.1; default 0 (ephemeral). */
  port?: number;
  /** Region of the ARNs; default `us-east-1`. */
  region?: string;
  /** Account of the ARNs; default `000000000000`. */
  accountId?: string;
  /** Client (with the local `endpoint`) for the `sqs:sendMessage` integrations. Not destroyed by `close()`. */
  sqs?: SQSClient;
  /** Local Lambda functions by function name, for all state machines of this service. */
  lambdas?: Record<string, LocalLambdaHandler>;
  /** How long a finished execution is remembered; default {@link EXECUTION_RETENTION_MS}. */
  executionRetentionMs?: number;
}

/** Options of {@link LocalStepFunctions.createStateMachine}. */
export interface CreateStateMachineOptions {
  /** Local Lambda functions by name (over the service's). */
  lambdas?: Record<string, LocalLambdaHandler>;
  /** Local handlers by Task state name; they take precedence over the resource. */
  taskHandlers?: Record<string, LocalTaskHandler>;
  /** Validate the definition with asl-validator (the library's default); default true. */
  validate?: boolean;
}

/** Status of an execution, as DescribeExecution reports it. */
export type LocalExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What DescribeExecution returns (dates as `Date`). */
export interface LocalExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: LocalExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** A running local Step Functions service. */
export interface LocalStepFunctions {
  /** e.g. `http://127.0.0.1:40123`: the SFN client `endpoint`. */
  endpoint: string;
  /**
   * Registers (or replaces) a state machine; returns its ARN
   * (`arn:aws:states:<region>:<account>:stateMachine:<name>`).
   *
   * @throws When the definition is invalid or a Task resource cannot be run locally.
   */
  createStateMachine(name: string, definition: object, opts?: CreateStateMachineOptions): string;
  /** StartExecution without HTTP. */
  startExecution(stateMachineArn: string, input?: unknown, name?: string): { executionArn: string };
  /** DescribeExecution without HTTP. */
  describeExecution(executionArn: string): LocalExecutionDescription;
  /** Resolves with the description once the execution is no longer RUNNING. */
  waitForExecution(executionArn: string): Promise<LocalExecutionDescription>;
  /** Aborts running executions, then closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * One timed event of a local execution, as an in-process observer sees it (a compact stand-in for
 * GetExecutionHistory): the execution's start and end, every state entered/exited/failed/caught
 * (Map iterations' states carry their `index`), and each Lambda invocation of a Task state.
 * `timestamp` is epoch milliseconds (state events: the library's `Date.now()`; the others with
 * sub-millisecond precision).
 */
export type LocalExecutionEvent = { executionArn: string; timestamp: number } & (
  | { type: 'ExecutionStarted'; name: string }
  | { type: 'ExecutionEnded'; status: LocalExecutionStatus }
  | {
      type: 'StateEntered' | 'StateExited' | 'StateFailed' | 'StateCaught' | 'StateRetried';
      state: string;
      stateType: string;
      index?: number;
    }
  | { type: 'LambdaInvoked' | 'LambdaReturned'; state: string; functionName: string }
);

/**
 * Observers of every execution of every local Step Functions service of this process (benchmarks).
 * Empty by default, and then nothing is recorded nor consumed: executions run exactly as without it.
 */
export const executionObservers = new Set<(event: LocalExecutionEvent) => void>();

const observe = (event: LocalExecutionEvent): void => {
  for (const o of executionObservers) {
    try {
      o(event);
    } catch {
      // an observer never disturbs an execution
    }
  }
};

const preciseNow = (): number => performance.timeOrigin + performance.now();

/** The largest TimeoutSeconds the library can honour (setTimeout's limit). */
const MAX_TIMEOUT_SECONDS = 2_147_483;
const TOKEN_PREFIX = 'LOCALSFN';

/** An error of the Step Functions API (JSON protocol `__type`). */
class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** An error a Task state fails with: `name` = ASL error, `message` = cause. */
const taskError = (error: string, cause: string): Error => {
  const e = new Error(cause);
  e.name = error;
  return e;
};

/** A Lambda function error as Step Functions reports it: Error = errorType, Cause = the error JSON. */
const lambdaError = (err: unknown): Error => {
  const errorType = err instanceof Error ? err.name : 'Error';
  const errorMessage = err instanceof Error ? err.message : String(err);
  const trace = err instanceof Error && err.stack ? err.stack.split('\n') : [];
  return taskError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `v` with `from` replaced by `to` in every string (keys included). */
const replaceDeep = (v: unknown, from: string, to: string): unknown => {
  if (typeof v === 'string') return v.split(from).join(to);
  if (Array.isArray(v)) return v.map((x) => replaceDeep(x, from, to));
  if (isRecord(v)) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k.split(from).join(to), replaceDeep(x, from, to)]),
    );
  }
  return v;
};

/** Function name of a name, `name:qualifier`, partial or full ARN. */
export const lambdaFunctionName = (ref: string): string => {
  const i = ref.indexOf(':function:');
  const rest = i >= 0 ? ref.slice(i + ':function:'.length) : ref;
  return rest.split(':')[0] ?? rest;
};

interface TaskSpec {
  resource: string;
  timeoutSeconds: number | undefined;
  heartbeatSeconds: number | undefined;
}

/**
 * Walks the definition (Map ItemProcessor/Iterator, Parallel Branches): collects the Task states
 * and gives those without a timeout the largest one the library supports.
 */
const prepareDefinition = (def: Record<string, unknown>, tasks: Map<string, TaskSpec>): void => {
  const states = def.States;
  if (!isRecord(states)) return;
  for (const [name, state] of Object.entries(states)) {
    if (!isRecord(state)) continue;
    if (state.Type === 'Task') {
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        state.TimeoutSeconds = MAX_TIMEOUT_SECONDS;
      }
      tasks.set(name, {
        resource: String(state.Resource),
        timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
        heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
      });
    }
    for (const sub of [state.ItemProcessor, state.Iterator]) {
      if (isRecord(sub)) prepareDefinition(sub, tasks);
    }
    if (Array.isArray(state.Branches)) {
      for (const b of state.Branches) if (isRecord(b)) prepareDefinition(b, tasks);
    }
  }
};

interface RegisteredMachine {
  arn: string;
  name: string;
  machine: StateMachine;
  tasks: Map<string, TaskSpec>;
  lambdas: Record<string, LocalLambdaHandler>;
  taskHandlers: Record<string, LocalTaskHandler>;
}

interface ExecutionRecord {
  arn: string;
  machine: RegisteredMachine;
  name: string;
  status: LocalExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  abort?: (() => void) | undefined;
  done: Promise<void>;
  tokens: Set<string>;
  /** Tokens of its tasks that are over, answered `TaskTimedOut` until the execution is forgotten. */
  closedTokens: string[];
}

/**
 * How long a finished local execution is remembered: described, its name taken (ExecutionAlreadyExists),
 * its task tokens answered `TaskTimedOut`. AWS keeps them 90 days; kept here for good, every call would
 * leave about 1 KB in a long local run's memory.
 */
export const EXECUTION_RETENTION_MS = 60_000;

interface PendingTask {
  execution: ExecutionRecord;
  resolve(output: unknown): void;
  reject(err: Error): void;
  heartbeat(): void;
  cleanup(): void;
}

const epochSeconds = (d: Date): number => d.getTime() / 1000;

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const parseJsonArg = (text: string | undefined, errorType: string, what: string): unknown => {
  if (text === undefined || text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new SfnApiError(errorType, `${what} is not valid JSON`);
  }
};

/** Tells the {@link executionObservers} the state events of one execution (the library's event log). */
const forwardStateEvents = async (
  executionArn: string,
  events: ReturnType<StateMachine['run']>['eventLogs'],
): Promise<void> => {
  try {
    for await (const ev of events) {
      if (
        ev.type === 'StateEntered' ||
        ev.type === 'StateExited' ||
        ev.type === 'StateFailed' ||
        ev.type === 'StateCaught' ||
        ev.type === 'StateRetried'
      ) {
        observe({
          type: ev.type,
          executionArn,
          timestamp: ev.timestamp,
          state: ev.state.name,
          stateType: ev.state.type,
          ...(ev.index !== undefined ? { index: ev.index } : {}),
        });
      }
    }
  } catch {
    // the event log ends with the execution
  }
};

/**
 * Starts the local Step Functions service on 127.0.0.1.
 *
 * @throws When the port is taken.
 */
export async function startLocalStepFunctions(
  opts: LocalStepFunctionsOptions = {},
): Promise<LocalStepFunctions> {
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '000000000000';
  const sentinel = `@@local-sfn-task-token-${randomBytes(12).toString('hex')}@@`;
  const machines = new Map<string, RegisteredMachine>();
  const executions = new Map<string, ExecutionRecord>();
  const pending = new Map<string, PendingTask>();
  /** Tokens whose task is over (completed, failed, timed out): further calls get TaskTimedOut. */
  const closedTokens = new Set<string>();
  const queueUrls = new Map<string, Promise<string>>();

  const closeToken = (token: string): void => {
    const p = pending.get(token);
    if (!p) return;
    p.cleanup();
    pending.delete(token);
    p.execution.tokens.delete(token);
    p.execution.closedTokens.push(token);
    closedTokens.add(token);
  };

  const resolveQueueUrl = (client: SQSClient, url: string): Promise<string> => {
    let p = queueUrls.get(url);
    if (!p) {
      const name = url.split('/').filter(Boolean).pop() ?? url;
      p = client.send(new GetQueueUrlCommand({ QueueName: name })).then((r) => r.QueueUrl ?? url);
      p.catch(() => queueUrls.delete(url));
      queueUrls.set(url, p);
    }
    return p;
  };

  const sendMessage = async (params: unknown): Promise<{ MessageId: string; MD5OfMessageBody: string }> => {
    const client = opts.sqs;
    if (!client)
      throw taskError('States.Runtime', 'no SQS client configured for the sqs:sendMessage integration');
    if (!isRecord(params) || typeof params.QueueUrl !== 'string') {
      throw taskError('States.Runtime', 'sqs:sendMessage needs Parameters.QueueUrl');
    }
    const body = params.MessageBody;
    try {
      const res = await client.send(
        new SendMessageCommand({
          QueueUrl: await resolveQueueUrl(client, params.QueueUrl),
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body ?? null),
          ...(typeof params.DelaySeconds === 'number' ? { DelaySeconds: params.DelaySeconds } : {}),
          ...(isRecord(params.MessageAttributes)
            ? { MessageAttributes: params.MessageAttributes as Record<string, MessageAttributeValue> }
            : {}),
          ...(typeof params.MessageGroupId === 'string' ? { MessageGroupId: params.MessageGroupId } : {}),
          ...(typeof params.MessageDeduplicationId === 'string'
            ? { MessageDeduplicationId: params.MessageDeduplicationId }
            : {}),
        }),
      );
      return { MessageId: res.MessageId ?? '', MD5OfMessageBody: res.MD5OfMessageBody ?? '' };
    } catch (err) {
      const name = err instanceof Error ? err.name : 'Error';
      throw taskError(`SQS.${name}`, err instanceof Error ? err.message : String(err));
    }
  };

  const invokeLambda = async (
    m: RegisteredMachine,
    functionRef: unknown,
    payload: unknown,
  ): Promise<unknown> => {
    if (typeof functionRef !== 'string')
      throw taskError('States.Runtime', 'lambda:invoke needs FunctionName');
    const fn = m.lambdas[functionRef] ?? m.lambdas[lambdaFunctionName(functionRef)];
    if (!fn) {
      throw taskError(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${functionRef} (no local handler)`,
      );
    }
    try {
      // Through JSON, as Lambda would see and return it.
      const result = await fn(JSON.parse(JSON.stringify(payload ?? null)));
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (err) {
      throw lambdaError(err);
    }
  };

  /** {@link invokeLambda} with its start and end told to the {@link executionObservers}. */
  const observedInvoke = async (
    execution: ExecutionRecord,
    state: string,
    m: RegisteredMachine,
    functionRef: unknown,
    payload: unknown,
  ): Promise<unknown> => {
    const functionName = typeof functionRef === 'string' ? lambdaFunctionName(functionRef) : '';
    const base = { executionArn: execution.arn, state, functionName };
    observe({ ...base, type: 'LambdaInvoked', timestamp: preciseNow() });
    try {
      return await invokeLambda(m, functionRef, payload);
    } finally {
      observe({ ...base, type: 'LambdaReturned', timestamp: preciseNow() });
    }
  };

  /** Mints a token for `execution`, substitutes it into `input`, runs `start`, waits for the token. */
  const withTaskToken = (
    execution: ExecutionRecord,
    spec: TaskSpec,
    input: unknown,
    start: (input: unknown) => Promise<unknown>,
  ): Promise<unknown> => {
    const token = `${TOKEN_PREFIX}.${randomBytes(48).toString('base64url')}`;
    return new Promise<unknown>((resolve, reject) => {
      let heartbeatTimer: NodeJS.Timeout | undefined;
      const timers: NodeJS.Timeout[] = [];
      const armHeartbeat = () => {
        if (spec.heartbeatSeconds === undefined) return;
        clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimeout(() => {
          closeToken(token);
          reject(taskError('States.HeartbeatTimeout', 'Task heartbeat timed out'));
        }, spec.heartbeatSeconds * 1000);
      };
      if (spec.timeoutSeconds !== undefined) {
        // The library rejects with States.Timeout at this moment; here the token is retired.
        timers.push(setTimeout(() => closeToken(token), spec.timeoutSeconds * 1000));
      }
      pending.set(token, {
        execution,
        resolve,
        reject,
        heartbeat: armHeartbeat,
        cleanup: () => {
          clearTimeout(heartbeatTimer);
          for (const t of timers) clearTimeout(t);
        },
      });
      execution.tokens.add(token);
      armHeartbeat();
      start(replaceDeep(input, sentinel, token)).catch((err: unknown) => {
        closeToken(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  };

  /** The `taskResourceLocalHandlers` of one execution. */
  const handlersFor = (execution: ExecutionRecord): Record<string, (input: Json) => Promise<Json>> => {
    const m = execution.machine;
    const out: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [stateName, spec] of m.tasks) {
      const custom = m.taskHandlers[stateName];
      const r = spec.resource;
      let run: (input: unknown) => Promise<unknown>;
      const invoke = (ref: unknown, payload: unknown): Promise<unknown> =>
        executionObservers.size === 0
          ? invokeLambda(m, ref, payload)
          : observedInvoke(execution, stateName, m, ref, payload);
      if (custom) {
        run = async (input) => custom(replaceDeep(input, sentinel, ''));
      } else if (r.startsWith('arn:aws:lambda:')) {
        run = (input) => invoke(r, input);
      } else if (r === 'arn:aws:states:::lambda:invoke') {
        run = async (input) => {
          const p = isRecord(input) ? input : {};
          return {
            ExecutedVersion: '$LATEST',
            Payload: await invoke(p.FunctionName, p.Payload),
            StatusCode: 200,
          };
        };
      } else if (r === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
        run = (input) =>
          withTaskToken(execution, spec, input, async (withToken) => {
            const p = isRecord(withToken) ? withToken : {};
            await invoke(p.FunctionName, p.Payload);
          });
      } else if (r === 'arn:aws:states:::sqs:sendMessage') {
        run = sendMessage;
      } else if (r === 'arn:aws:states:::sqs:sendMessage.waitForTaskToken') {
        run = (input) => withTaskToken(execution, spec, input, sendMessage);
      } else {
        throw new Error(`state ${stateName}: resource ${r} cannot run locally`);
      }
      out[stateName] = async (input) => (await run(input)) as Json;
    }
    return out;
  };

  const createStateMachine = (
    name: string,
    definition: object,
    o: CreateStateMachineOptions = {},
  ): string => {
    const arn = `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
    const def = structuredClone(definition) as Record<string, unknown>;
    const tasks = new Map<string, TaskSpec>();
    prepareDefinition(def, tasks);
    const machine = new StateMachine(
      def as unknown as ConstructorParameters<typeof StateMachine>[0],
      o.validate === false ? { validationOptions: { noValidate: true } } : {},
    );
    const registered: RegisteredMachine = {
      arn,
      name,
      machine,
      tasks,
      lambdas: { ...opts.lambdas, ...o.lambdas },
      taskHandlers: { ...o.taskHandlers },
    };
    // Fail now, not at the first execution, on resources that cannot run locally.
    handlersFor({ machine: registered } as ExecutionRecord);
    machines.set(arn, registered);
    return arn;
  };

  const finish = (
    e: ExecutionRecord,
    status: LocalExecutionStatus,
    fields: Partial<ExecutionRecord>,
  ): void => {
    if (e.status !== 'RUNNING') return;
    Object.assign(e, fields, { status, stopDate: new Date() });
    for (const t of [...e.tokens]) closeToken(t);
    e.abort = undefined;
    // Forgotten EXECUTION_RETENTION_MS later, with its tokens: a long local run's memory stays flat.
    setTimeout(() => {
      executions.delete(e.arn);
      for (const t of e.closedTokens) closedTokens.delete(t);
    }, opts.executionRetentionMs ?? EXECUTION_RETENTION_MS).unref();
    if (executionObservers.size > 0) {
      observe({ type: 'ExecutionEnded', executionArn: e.arn, status, timestamp: preciseNow() });
    }
  };

  const startExecution = (
    stateMachineArn: string,
    input: unknown = {},
    name?: string,
  ): { executionArn: string } => {
    const m = machines.get(stateMachineArn);
    if (!m)
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const execName = name ?? randomUUID();
    const arn = `arn:aws:states:${region}:${accountId}:execution:${m.name}:${execName}`;
    if (executions.has(arn))
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    const startDate = new Date();
    const e: ExecutionRecord = {
      arn,
      machine: m,
      name: execName,
      status: 'RUNNING',
      startDate,
      input: JSON.stringify(input),
      done: Promise.resolve(),
      tokens: new Set(),
      closedTokens: [],
    };
    executions.set(arn, e);
    const observed = executionObservers.size > 0;
    if (observed) {
      // Before run(): the first Task state's handler may be called synchronously.
      observe({
        type: 'ExecutionStarted',
        executionArn: arn,
        name: execName,
        timestamp: startDate.getTime(),
      });
    }
    const run = m.machine.run(JSON.parse(e.input) as Json, {
      overrides: { taskResourceLocalHandlers: handlersFor(e) },
      context: {
        Execution: { Id: arn, Name: execName, RoleArn: `arn:aws:iam::${accountId}:role/local` },
        StateMachine: { Id: m.arn, Name: m.name },
        Task: { Token: sentinel },
      },
    });
    e.abort = run.abort;
    if (observed) void forwardStateEvents(arn, run.eventLogs);
    e.done = run.result.then(
      (result) => finish(e, 'SUCCEEDED', { output: JSON.stringify(result ?? null) }),
      (err: unknown) => {
        if (err instanceof ExecutionAbortedError) finish(e, 'ABORTED', {});
        else if (err instanceof ExecutionTimeoutError) finish(e, 'TIMED_OUT', { error: 'States.Timeout' });
        else {
          const cause = err instanceof ExecutionError && err.cause instanceof Error ? err.cause : err;
          finish(e, 'FAILED', {
            error: cause instanceof Error ? cause.name : 'Error',
            cause: cause instanceof Error ? cause.message : String(cause),
          });
        }
      },
    );
    return { executionArn: arn };
  };

  const getExecution = (arn: unknown): ExecutionRecord => {
    const e = typeof arn === 'string' ? executions.get(arn) : undefined;
    if (!e) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(arn)}'`);
    return e;
  };

  const describeExecution = (arn: string): LocalExecutionDescription => {
    const e = getExecution(arn);
    return {
      executionArn: e.arn,
      stateMachineArn: e.machine.arn,
      name: e.name,
      status: e.status,
      startDate: e.startDate,
      input: e.input,
      ...(e.stopDate ? { stopDate: e.stopDate } : {}),
      ...(e.output !== undefined ? { output: e.output } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
    };
  };

  const takeToken = (token: unknown): PendingTask & { token: string } => {
    if (typeof token !== 'string' || !token.startsWith(`${TOKEN_PREFIX}.`)) {
      throw new SfnApiError('InvalidToken', 'Invalid Token');
    }
    const p = pending.get(token);
    if (!p) {
      if (closedTokens.has(token)) throw new SfnApiError('TaskTimedOut', 'Task Timed Out');
      throw new SfnApiError('TaskDoesNotExist', 'Task Does Not Exist');
    }
    return { ...p, token };
  };

  const operations: Record<string, (req: Record<string, unknown>) => unknown> = {
    StartExecution: (req) => {
      const input = parseJsonArg(req.input as string | undefined, 'InvalidExecutionInput', 'input');
      const { executionArn } = startExecution(
        String(req.stateMachineArn),
        input,
        typeof req.name === 'string' ? req.name : undefined,
      );
      return { executionArn, startDate: epochSeconds(getExecution(executionArn).startDate) };
    },
    DescribeExecution: (req) => {
      const d = describeExecution(String(req.executionArn));
      return {
        ...d,
        startDate: epochSeconds(d.startDate),
        ...(d.stopDate ? { stopDate: epochSeconds(d.stopDate) } : {}),
      };
    },
    StopExecution: (req) => {
      const e = getExecution(req.executionArn);
      finish(e, 'ABORTED', {
        ...(typeof req.error === 'string' ? { error: req.error } : {}),
        ...(typeof req.cause === 'string' ? { cause: req.cause } : {}),
      });
      e.abort?.();
      return { stopDate: epochSeconds(e.stopDate ?? new Date()) };
    },
    SendTaskSuccess: (req) => {
      const t = takeToken(req.taskToken);
      const output = parseJsonArg(req.output as string | undefined, 'InvalidOutput', 'output');
      closeToken(t.token);
      t.resolve(output);
      return {};
    },
    SendTaskFailure: (req) => {
      const t = takeToken(req.taskToken);
      closeToken(t.token);
      t.reject(
        taskError(
          typeof req.error === 'string' ? req.error : '',
          typeof req.cause === 'string' ? req.cause : '',
        ),
      );
      return {};
    },
    SendTaskHeartbeat: (req) => {
      takeToken(req.taskToken).heartbeat();
      return {};
    },
  };

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string): void => {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        const op = operations[target.replace(/^AWSStepFunctions\./, '')];
        const text = await readBody(req);
        if (req.method !== 'POST' || !op) {
          throw new SfnApiError('UnknownOperationException', `unsupported operation ${target}`);
        }
        const body = parseJsonArg(text, 'SerializationException', 'request');
        reply(res, 200, op(isRecord(body) ? body : {}));
      } catch (err) {
        if (err instanceof SfnApiError) {
          reply(res, 400, { __type: err.type, message: err.message }, err.type);
        } else {
          reply(res, 500, {
            __type: 'InternalFailure',
            message: err instanceof Error ? err.message : String(err),
          });
        }
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    createStateMachine,
    startExecution,
    describeExecution,
    waitForExecution: async (arn) => {
      await getExecution(arn).done;
      return describeExecution(arn);
    },
    close: () => {
      closing ??= (async () => {
        for (const e of executions.values()) {
          if (e.status === 'RUNNING') {
            finish(e, 'ABORTED', { error: 'States.Aborted', cause: 'service closed' });
            e.abort?.();
          }
        }
        await Promise.all([...executions.values()].map((e) => e.done));
        await new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
