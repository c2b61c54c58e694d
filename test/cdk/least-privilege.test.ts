/**
 * Least privilege, checked twice:
 * 1. **Code → FUNCTION_ACCESS**: each function's sources (its import graph, from esbuild's metafile) are
 *    scanned for every store, call store, workflow, edge control and message relay call; the DynamoDB
 *    actions and indexes those calls need, the Step Functions actions, the edge use and the message relay
 *    use must be exactly what lib/function-access.ts grants.
 * 2. **Template → explicit table**: every IAM policy statement of every function role (and of the edge
 *    task, its execution role and the state machine) is listed, action by action with the kind of
 *    resource, and compared with the table below. No `*` action anywhere; no wildcard on a data
 *    resource (table, index, secret, queue) nor on the message-relay function.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEXES } from '../../adapters/dynamo/table-design.ts';
import {
  type DynamoAction,
  EDGE_CONTROL_NOT_WIRED,
  FUNCTION_ACCESS,
  type IndexKey,
  MESSAGE_RELAY_CLIENTS,
  type StatesAction,
} from '../../lib/function-access.ts';
import { McpttSystemStack, REPO_ROOT, TOKEN_FUNCTIONS } from '../../lib/mcptt-system-stack.ts';
import { FUNCTIONS, type FunctionName } from '../../lib/routes.ts';
import { createEntryRoot, type EntryRoot, testApp } from './fixture.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Resource = { Type: string; Properties: Record<string, unknown> };
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

const GET: DynamoAction = 'dynamodb:GetItem';
const BATCH_GET: DynamoAction = 'dynamodb:BatchGetItem';
const PUT: DynamoAction = 'dynamodb:PutItem';
const UPDATE: DynamoAction = 'dynamodb:UpdateItem';
const DELETE: DynamoAction = 'dynamodb:DeleteItem';
const QUERY: DynamoAction = 'dynamodb:Query';

/**
 * What each store method runs (adapters/dynamo/store.ts and call-store.ts): the DynamoDB actions, and
 * the index a Query uses. Read off the adapters; the tests below fail when a public method is missing
 * here or an adapter starts using another command.
 */
const METHOD_ACCESS: Readonly<Record<string, { actions: DynamoAction[]; index?: IndexKey }>> = {
  // Store
  ping: { actions: [GET] },
  createUser: { actions: [PUT] },
  putUser: { actions: [PUT] },
  replaceUser: { actions: [PUT] },
  getUser: { actions: [GET] },
  getUsers: { actions: [BATCH_GET] },
  listUsers: { actions: [QUERY], index: 'byType' },
  deleteUser: { actions: [DELETE] },
  createGroup: { actions: [PUT] },
  putGroup: { actions: [PUT] },
  replaceGroup: { actions: [PUT] },
  getGroup: { actions: [GET] },
  listGroups: { actions: [QUERY], index: 'byType' },
  deleteGroup: { actions: [DELETE] },
  putMember: { actions: [PUT] },
  deleteMember: { actions: [DELETE] },
  listMembers: { actions: [QUERY] },
  groupsOfUser: { actions: [QUERY], index: 'byUser' },
  getMarker: { actions: [GET] },
  claimMarker: { actions: [PUT] },
  activateMarker: { actions: [UPDATE] },
  releaseMarker: { actions: [DELETE] },
  markersOf: { actions: [QUERY], index: 'byUser' },
  listMarkers: { actions: [QUERY], index: 'byType' },
  reserveTemporaryGroup: { actions: [PUT] },
  transitionTemporaryGroup: { actions: [PUT] },
  getTemporaryGroup: { actions: [GET] },
  listTemporaryGroups: { actions: [QUERY], index: 'byType' },
  deleteTemporaryGroup: { actions: [DELETE] },
  createAgreement: { actions: [PUT] },
  putAgreement: { actions: [PUT] },
  replaceAgreement: { actions: [PUT] },
  getAgreement: { actions: [GET] },
  listAgreements: { actions: [QUERY], index: 'byType' },
  deleteAgreement: { actions: [DELETE] },
  recordNonce: { actions: [PUT] },
  recordCallNonces: { actions: [UPDATE] },
  putCallPass: { actions: [PUT] },
  getCallPass: { actions: [GET] },
  // Read-modify-write of the user's one registrations item; deleted when no binding is left.
  putRegistration: { actions: [GET, PUT, DELETE] },
  deleteRegistration: { actions: [GET, PUT, DELETE] },
  listRegistrations: { actions: [GET] },
  registrationsOf: { actions: [BATCH_GET] },
  putAffiliation: { actions: [PUT] },
  deleteAffiliation: { actions: [DELETE] },
  affiliationsOfUser: { actions: [QUERY], index: 'byUser' },
  affiliationsToGroup: { actions: [QUERY] },
  // CallStore
  claimSipCallId: { actions: [PUT, GET] },
  createCall: { actions: [PUT] },
  getCall: { actions: [GET] },
  addLegs: { actions: [PUT, UPDATE] },
  readCall: { actions: [QUERY] },
  listLegs: { actions: [QUERY] },
  recordResponse: { actions: [UPDATE, GET] },
  recordResponses: { actions: [UPDATE, GET] },
  claimDecision: { actions: [UPDATE] },
  setTaskToken: { actions: [UPDATE] },
  setPolicy: { actions: [UPDATE] },
  markReleased: { actions: [UPDATE] },
  setStatus: { actions: [UPDATE] },
};

/** WorkflowClient methods (adapters/workflow-client.ts) → Step Functions actions. */
const WORKFLOW_ACCESS: Readonly<Record<string, StatesAction>> = {
  taskSucceeded: 'states:SendTaskSuccess',
  taskFailed: 'states:SendTaskFailure',
  startExecution: 'states:StartExecution',
  stopExecution: 'states:StopExecution',
};

/** EdgeControl methods (adapters/edge-control-client.ts). */
const EDGE_METHODS = ['sendMessages', 'originate', 'held', 'endLegs'];
/**
 * What goes either to the edge or to the message relay (`deps.messages ?? deps.edge`, in a variable named
 * `messages`: functions/shared/notify-regroup.ts): the relay client (adapters/message-relay-client.ts)
 * has `sendMessages` only.
 */
const MESSAGE_METHODS = ['sendMessages'];

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
/** Public method names of a class in a source file (2-space indented members, not private). */
const publicMethods = (file: string): string[] =>
  [...read(file).matchAll(/^ {2}(?!private |constructor)(?:async )?([a-z][A-Za-z0-9]*)\(/gm)].map(
    (m) => m[1] as string,
  );
/** Method names called on a receiver named `name` (`deps.store.x(`, `store?.x(`, multi-line chains). */
const callsOn = (source: string, name: string, known: readonly string[]): Set<string> => {
  const found = new Set<string>();
  for (const m of source.matchAll(new RegExp(`\\b${name}\\s*\\??\\.\\s*([A-Za-z0-9_]+)\\s*\\(`, 'g'))) {
    if (known.includes(m[1] as string)) found.add(m[1] as string);
  }
  return found;
};

/** The project files a function's bundle includes (its import graph, npm packages left out). */
const sourcesOf = async (entry: string): Promise<string[]> => {
  const result = await build({
    entryPoints: [join(REPO_ROOT, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  });
  return Object.keys(result.metafile.inputs)
    .map((p) => relative(REPO_ROOT, join(REPO_ROOT, p)))
    .filter((p) => !p.startsWith('node_modules') && !p.startsWith('..'));
};

interface Needed {
  table: DynamoAction[];
  indexes: IndexKey[];
  states: StatesAction[];
  /** The edge control methods it calls, on the edge or (sendMessages) on `edge ?? messages`. */
  edgeMethods: string[];
  /** It sends SIP MESSAGEs through `messages` (the relay when `deps.messages` is set, else the edge). */
  messages: boolean;
  methods: string[];
}

describe('Least privilege: function code → lib/function-access.ts', () => {
  const needed = {} as Record<FunctionName, Needed>;

  beforeAll(async () => {
    const storeMethods = Object.keys(METHOD_ACCESS);
    for (const spec of FUNCTIONS) {
      const files = await sourcesOf(spec.entry);
      const source = files.map(read).join('\n');
      const methods = new Set([
        ...callsOn(source, 'store', storeMethods),
        ...callsOn(source, 'calls', storeMethods),
      ]);
      const table = new Set<DynamoAction>();
      const indexes = new Set<IndexKey>();
      for (const m of methods) {
        const access = METHOD_ACCESS[m];
        if (!access) continue;
        for (const a of access.actions) table.add(a);
        if (access.index) indexes.add(access.index);
      }
      const states = [...callsOn(source, 'workflow', Object.keys(WORKFLOW_ACCESS))].map(
        (m) => WORKFLOW_ACCESS[m] as StatesAction,
      );
      const messages = callsOn(source, 'messages', MESSAGE_METHODS);
      needed[spec.name] = {
        table: [...table].sort(),
        indexes: [...indexes].sort(),
        states: [...new Set(states)].sort(),
        edgeMethods: [...new Set([...callsOn(source, 'edge', EDGE_METHODS), ...messages])].sort(),
        messages: messages.size > 0,
        methods: [...methods].sort(),
      };
    }
  }, 60_000);

  it('knows every public method of the store and the call store', () => {
    const methods = [
      ...publicMethods('adapters/dynamo/store.ts'),
      ...publicMethods('adapters/dynamo/call-store.ts'),
    ];
    expect(methods.length).toBeGreaterThan(40);
    expect(methods.filter((m) => !(m in METHOD_ACCESS))).toEqual([]);
  });

  it('the adapters use single-item commands, Query and BatchGet only (no scan, batch write, transaction)', () => {
    const allowed = [
      'BatchGetCommand',
      'DeleteCommand',
      'GetCommand',
      'PutCommand',
      'QueryCommand',
      'UpdateCommand',
    ];
    for (const file of ['adapters/dynamo/store.ts', 'adapters/dynamo/call-store.ts']) {
      const commands = new Set([...read(file).matchAll(/new ([A-Za-z]+Command)\(/g)].map((m) => m[1]));
      expect(commands.size, file).toBeGreaterThan(0);
      for (const c of commands) expect(allowed, `${file} uses ${c}`).toContain(c);
    }
    const workflow = read('adapters/workflow-client.ts');
    for (const m of Object.keys(WORKFLOW_ACCESS)) expect(workflow).toContain(`async ${m}(`);
    const edge = read('adapters/edge-control-client.ts');
    for (const m of EDGE_METHODS) expect(edge).toMatch(new RegExp(`\\b${m}\\b`));
    // The message relay client only ever invokes (lambda:InvokeFunction), asynchronously.
    const relay = read('adapters/message-relay-client.ts');
    expect(new Set([...relay.matchAll(/new ([A-Za-z]+Command)\(/g)].map((m) => m[1]))).toEqual(
      new Set(['InvokeCommand']),
    );
    expect(relay).toContain("InvocationType: 'Event'");
    for (const m of MESSAGE_METHODS) expect(relay).toMatch(new RegExp(`\\b${m}\\b`));
    // deps.messages is the relay client, built from the relay's name only.
    const deps = read('functions/shared/deps.ts');
    expect(deps).toMatch(/messages: createMessageRelayClient\(\{ functionName: messageRelay \}\)/);
    expect(deps).toContain('env[ENV.messageRelayFunction]');
  });

  it.each(FUNCTIONS.map((f) => f.name))(
    '%s: DynamoDB actions and indexes are exactly those its code runs',
    (name) => {
      const spec = FUNCTIONS.find((f) => f.name === name);
      if (spec?.table === 'none') expect(needed[name].methods, `${name} has no table access`).toEqual([]);
      else expect(needed[name].methods.length, `${name} calls no store method`).toBeGreaterThan(0);
      expect({ table: needed[name].table, indexes: needed[name].indexes }).toEqual({
        table: [...FUNCTION_ACCESS[name].table].sort(),
        indexes: [...FUNCTION_ACCESS[name].indexes].sort(),
      });
    },
  );

  it.each(FUNCTIONS.map((f) => f.name))('%s: Step Functions actions are exactly those it calls', (name) => {
    expect(needed[name].states).toEqual([...FUNCTION_ACCESS[name].states].sort());
  });

  it.each(FUNCTIONS.map((f) => f.name))(
    '%s: wired to the edge control API iff it calls it, or to the message relay for its MESSAGEs only',
    (name) => {
      const { edgeControl, messageRelay } = FUNCTION_ACCESS[name];
      const calls = needed[name].edgeMethods;
      if (messageRelay) {
        // Outside the VPC: its MESSAGEs go through the relay, and it calls nothing else of the edge.
        expect(edgeControl, `${name} is in the VPC: no need for the relay`).toBe(false);
        expect(needed[name].messages, `${name} does not send through deps.messages`).toBe(true);
        expect(calls).toEqual(['sendMessages']);
        expect(EDGE_CONTROL_NOT_WIRED[name]).toBeUndefined();
      } else if (calls.length > 0 && !edgeControl) {
        // A known, documented gap (decision 0011), not an accident.
        expect(EDGE_CONTROL_NOT_WIRED[name], `${name} calls the edge but is not wired to it`).toBeDefined();
      } else {
        expect(edgeControl).toBe(calls.length > 0);
        expect(EDGE_CONTROL_NOT_WIRED[name]).toBeUndefined();
      }
    },
  );

  it('no edge-calling function is left unwired: EDGE_CONTROL_NOT_WIRED is empty', () => {
    expect(EDGE_CONTROL_NOT_WIRED).toEqual({});
  });

  it('regroups sends its notices through the message relay, which calls the edge for MESSAGEs only', () => {
    expect(MESSAGE_RELAY_CLIENTS).toEqual(['regroups']);
    expect(FUNCTIONS.find((f) => f.name === 'message-relay')).toMatchObject({
      trigger: 'invoke',
      table: 'none',
      callsPartners: false,
    });
    expect(FUNCTION_ACCESS['message-relay']).toMatchObject({ edgeControl: true, messageRelay: false });
    expect(needed['message-relay'].edgeMethods).toEqual(['sendMessages']);
  });

  it('read functions do not write', () => {
    for (const spec of FUNCTIONS.filter((f) => f.table === 'read')) {
      expect(
        FUNCTION_ACCESS[spec.name].table.every((a) => a === GET || a === QUERY),
        spec.name,
      ).toBe(true);
    }
  });
});

/**
 * Every statement of every function role, as `action resource-kind` rows. Kinds: `table`,
 * `index:<name>`, `logs:own` (the function's own log group), `secret:signing-key`,
 * `secret:edge-token`, `state-machine`, `executions`, `queue:interrogation`, `function:<name>` (one
 * function of the stack, unqualified ARN), `*`.
 */
const LOGS = ['logs:CreateLogStream logs:own', 'logs:PutLogEvents logs:own'];
const XRAY = ['xray:PutTelemetryRecords *', 'xray:PutTraceSegments *'];
const VPC = [
  'ec2:AssignPrivateIpAddresses *',
  'ec2:CreateNetworkInterface *',
  'ec2:DeleteNetworkInterface *',
  'ec2:DescribeNetworkInterfaces *',
  'ec2:DescribeSubnets *',
  'ec2:UnassignPrivateIpAddresses *',
];
const SIGNING_KEY = ['secretsmanager:GetSecretValue secret:signing-key'];
const EDGE_TOKEN = ['secretsmanager:GetSecretValue secret:edge-token'];
const CALLBACKS = ['states:SendTaskFailure state-machine', 'states:SendTaskSuccess state-machine'];
/** member-response and call-setup-tasks only ever complete the wait successfully. */
const SUCCESS = ['states:SendTaskSuccess state-machine'];
/** Asynchronous invocation of the message relay (MESSAGE_RELAY_CLIENTS). */
const INVOKE_RELAY = ['lambda:InvokeFunction function:message-relay'];
const table = (...actions: string[]) => actions.map((a) => `dynamodb:${a} table`);
const index = (...names: string[]) => names.map((n) => `dynamodb:Query index:${n}`);

const EXPECTED_STATEMENTS: Readonly<Record<FunctionName, readonly string[]>> = {
  health: [...LOGS, ...XRAY, ...table('GetItem')],
  auth: [...LOGS, ...XRAY, ...table('GetItem'), ...SIGNING_KEY],
  users: [
    ...LOGS,
    ...XRAY,
    ...table('DeleteItem', 'GetItem', 'PutItem', 'Query'),
    ...index('gsi1', 'gsi2'),
    ...SIGNING_KEY,
  ],
  groups: [
    ...LOGS,
    ...XRAY,
    ...table('DeleteItem', 'GetItem', 'PutItem', 'Query'),
    ...index('gsi2'),
    ...SIGNING_KEY,
  ],
  agreements: [
    ...LOGS,
    ...XRAY,
    ...table('DeleteItem', 'GetItem', 'PutItem', 'Query'),
    ...index('gsi2'),
    ...SIGNING_KEY,
  ],
  regroups: [
    ...LOGS,
    ...XRAY,
    ...table('BatchGetItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'),
    ...index('gsi2'),
    ...SIGNING_KEY,
    ...INVOKE_RELAY,
  ],
  'partner-api': [
    ...LOGS,
    ...XRAY,
    ...VPC,
    ...table('BatchGetItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'),
    ...index('gsi1'),
    ...EDGE_TOKEN,
  ],
  registration: [...LOGS, ...XRAY, ...table('DeleteItem', 'GetItem', 'PutItem')],
  affiliation: [...LOGS, ...XRAY, ...table('DeleteItem', 'PutItem', 'Query'), ...index('gsi1')],
  'call-routing': [
    ...LOGS,
    ...XRAY,
    ...VPC,
    ...table('GetItem', 'PutItem', 'Query', 'UpdateItem'),
    ...index('gsi1'),
    ...EDGE_TOKEN,
    'states:StartExecution state-machine',
    'states:StopExecution executions',
  ],
  'member-response': [...LOGS, ...XRAY, ...table('GetItem', 'UpdateItem'), ...SUCCESS],
  'call-setup-tasks': [
    ...LOGS,
    ...XRAY,
    ...VPC,
    ...table('BatchGetItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'),
    ...EDGE_TOKEN,
    ...SUCCESS,
  ],
  'partner-interrogator': [
    ...LOGS,
    ...XRAY,
    ...table('GetItem'),
    ...CALLBACKS,
    // Added by the SQS event source (grantConsumeMessages), on the interrogation queue only.
    'sqs:ChangeMessageVisibility queue:interrogation',
    'sqs:DeleteMessage queue:interrogation',
    'sqs:GetQueueAttributes queue:interrogation',
    'sqs:GetQueueUrl queue:interrogation',
    'sqs:ReceiveMessage queue:interrogation',
  ],
  // No table: the edge control token and what a function in the VPC needs, nothing else.
  'message-relay': [...LOGS, ...XRAY, ...VPC, ...EDGE_TOKEN],
};

describe('Least privilege: every IAM statement of the template', () => {
  let root: EntryRoot;
  let stack: McpttSystemStack;
  let resources: Record<string, Resource>;
  const id = (c: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(c.node.defaultChild as CfnElement);

  beforeAll(() => {
    root = createEntryRoot();
    stack = new McpttSystemStack(testApp(root, false), 'Mcptt-primary-example', {
      system: 'primary.example',
      entryRoot: root.dir,
    });
    resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  }, 120_000);
  afterAll(() => root?.dispose());

  /** Statements of every AWS::IAM::Policy attached to the role with logical id `role`. */
  const statementsOf = (role: string): Statement[] =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === role))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

  /** What kind of resource an IAM resource element is (fails on anything unexpected). */
  const kindOf = (resource: unknown, fnName?: FunctionName): string => {
    if (resource === '*') return '*';
    const text = JSON.stringify(resource);
    const tableId = id(stack.table);
    if (text === JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] })) return 'table';
    for (const i of Object.values(INDEXES)) {
      if (text.includes(`"${tableId}"`) && text.endsWith(`/index/${i.name}"]]}`)) return `index:${i.name}`;
    }
    if (text === JSON.stringify({ Ref: id(stack.tokenSecret) })) return 'secret:signing-key';
    if (text === JSON.stringify({ Ref: id(stack.edgeControlToken) })) return 'secret:edge-token';
    const machine = id(stack.callSetup.stateMachine);
    if (text === JSON.stringify({ Ref: machine })) return 'state-machine';
    if (text.includes(`:execution:`) && text.includes(`"${machine}","Name"`)) return 'executions';
    if (text === JSON.stringify({ 'Fn::GetAtt': [id(stack.interrogationQueue), 'Arn'] })) {
      return 'queue:interrogation';
    }
    for (const f of FUNCTIONS) {
      if (text === JSON.stringify({ 'Fn::GetAtt': [id(stack.functions[f.name]), 'Arn'] })) {
        return `function:${f.name}`;
      }
    }
    if (fnName) {
      const own = stack.node.tryFindChild(`${pascal(fnName)}Logs`) as { node: { defaultChild?: unknown } };
      if (text === JSON.stringify({ 'Fn::GetAtt': [id(own), 'Arn'] })) return 'logs:own';
    }
    return `UNEXPECTED ${text}`;
  };
  const rowsOf = (role: string, fnName?: FunctionName): string[] =>
    statementsOf(role)
      .flatMap((s) => {
        expect(s.Effect).toBe('Allow');
        expect(s.Condition).toBeUndefined();
        return asArray(s.Action).flatMap((a) => asArray(s.Resource).map((r) => `${a} ${kindOf(r, fnName)}`));
      })
      .sort();

  it.each(FUNCTIONS.map((f) => f.name))('%s: every statement is in the expected table', (name) => {
    const role = id(stack.roleOf(name));
    expect(rowsOf(role, name)).toEqual([...EXPECTED_STATEMENTS[name]].sort());
  });

  it('the expected table agrees with FUNCTION_ACCESS and TOKEN_FUNCTIONS', () => {
    for (const spec of FUNCTIONS) {
      const rows = EXPECTED_STATEMENTS[spec.name];
      const a = FUNCTION_ACCESS[spec.name];
      expect(
        rows
          .filter((r) => r.endsWith(' table'))
          .map((r) => r.split(' ')[0])
          .sort(),
      ).toEqual([...a.table].sort());
      expect(
        rows
          .filter((r) => r.includes(' index:'))
          .map((r) => r.split(':').pop())
          .sort(),
      ).toEqual(a.indexes.map((k) => INDEXES[k].name).sort());
      expect(
        rows
          .filter((r) => r.startsWith('states:'))
          .map((r) => r.split(' ')[0])
          .sort(),
      ).toEqual([...a.states].sort());
      expect(rows.some((r) => r.startsWith('ec2:'))).toBe(a.edgeControl);
      expect(rows.some((r) => r.endsWith('secret:edge-token'))).toBe(a.edgeControl);
      expect(rows.some((r) => r.endsWith('secret:signing-key'))).toBe(TOKEN_FUNCTIONS.has(spec.name));
      expect(rows.filter((r) => r.startsWith('lambda:'))).toEqual(a.messageRelay ? INVOKE_RELAY : []);
    }
  });

  it('only the message relay clients may invoke the message relay, and nothing else may invoke a function', () => {
    const relay = id(stack.functions['message-relay']);
    const invokers = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) =>
        (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some(
          (s) =>
            asArray(s.Action).some((a) => a.startsWith('lambda:')) &&
            JSON.stringify(s.Resource).includes(`"${relay}"`),
        ),
      )
      .flatMap((r) => (r.Properties.Roles as { Ref: string }[]).map((x) => x.Ref));
    expect(invokers).toEqual(MESSAGE_RELAY_CLIENTS.map((n) => id(stack.roleOf(n))));
    // The relay has no resource-based policy: no service (API Gateway, events) may invoke it.
    const permissions = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(relay),
    );
    expect(permissions).toEqual([]);
  });

  it('no function role has an AWS managed policy or an inline policy on the role itself', () => {
    for (const spec of FUNCTIONS) {
      const role = resources[id(stack.roleOf(spec.name))];
      expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role?.Properties.Policies).toBeUndefined();
    }
  });

  it('the edge task role may invoke the edge routes, read the control token and write its metrics logs', () => {
    const rows = rowsOf(id(stack.edge.taskDefinition.taskRole as never));
    const invoke = rows.filter((r) => r.startsWith('execute-api:Invoke '));
    expect(invoke.length).toBeGreaterThan(0);
    for (const r of invoke) expect(r).toMatch(/^execute-api:Invoke UNEXPECTED .*\/edge\//);
    const others = rows.filter((r) => !r.startsWith('execute-api:Invoke '));
    const metricsLogs = JSON.stringify({ 'Fn::GetAtt': [id(stack.edge.metricsLogGroup), 'Arn'] });
    expect(others).toEqual([
      `logs:CreateLogStream UNEXPECTED ${metricsLogs}`,
      `logs:DescribeLogStreams UNEXPECTED ${metricsLogs}`,
      `logs:PutLogEvents UNEXPECTED ${metricsLogs}`,
      'secretsmanager:GetSecretValue secret:edge-token',
    ]);
  });

  it('no statement anywhere has a wildcard action, or a wildcard on a table, secret or queue', () => {
    const all = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    expect(all.length).toBeGreaterThan(20);
    const data = [id(stack.table), id(stack.tokenSecret), id(stack.edgeControlToken)];
    data.push(id(stack.interrogationQueue), id(stack.interrogationDlq), id(stack.functions['message-relay']));
    for (const s of all) {
      for (const a of asArray(s.Action)) expect(a, JSON.stringify(s)).not.toMatch(/\*/);
      for (const r of asArray(s.Resource)) {
        const text = JSON.stringify(r);
        if (data.some((d) => text.includes(`"${d}"`))) expect(text, JSON.stringify(s)).not.toContain('*');
      }
    }
  });
});

const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
