import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../adapters/dynamo/table-design.ts';
import { DEFAULT_HOLD_TIMEOUT_MS } from '../../functions/shared/deps.ts';
import { EDGE_CONTROL_URL } from '../../lib/edge-config.ts';
import { EDGE_CONTROL_CLIENTS, FUNCTION_ACCESS, MESSAGE_RELAY_CLIENTS } from '../../lib/function-access.ts';
import {
  DEFAULT_TIMEOUT_SECONDS,
  ESM_REQUIRE_BANNER,
  INTERROGATION_MAX_RECEIVE_COUNT,
  INTERROGATION_VISIBILITY_SECONDS,
  McpttSystemStack,
  MESSAGE_RELAY_MAX_EVENT_AGE_SECONDS,
  MESSAGE_RELAY_RETRY_ATTEMPTS,
  REPO_ROOT,
  TIMEOUT_SECONDS,
  TOKEN_FUNCTIONS,
} from '../../lib/mcptt-system-stack.ts';
import { API_FUNCTIONS, ENV, FUNCTIONS, type FunctionName, ROUTES, routeKey } from '../../lib/routes.ts';
import { createEntryRoot, type EntryRoot, SDK_IMPORTING_FUNCTION, testApp } from './fixture.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const SYSTEM = 'primary.example';
const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

let root: EntryRoot;
let stack: McpttSystemStack;
let template: Template;
let resources: Record<string, Resource>;
let outdir: string;
/** Logical ids, computed from the constructs (not guessed from the template). */
let tableId: string;
let secretId: string;
let edgeTokenId: string;
let machineId: string;
let queueId: string;
let dlqId: string;
const functionId = {} as Record<FunctionName, string>;
const roleId = {} as Record<FunctionName, string>;

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

/** The resource with logical id `id` (fails the test when absent). */
const res = (id: string): Resource => {
  const r = resources[id];
  if (r === undefined) throw new Error(`no resource ${id} in the template`);
  return r;
};

const statementsOf = (policy: Resource): Statement[] =>
  (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;

/** All statements of the IAM policies attached to the role with logical id `role`. */
const statementsOfRole = (role: string): Statement[] =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties.Roles).includes(`"${role}"`))
    .flatMap((r) => statementsOf(r));

const actionsOf = (statements: Statement[], prefix: string): Statement[] =>
  statements.filter((s) => asArray(s.Action).some((a) => a.startsWith(prefix)));

beforeAll(() => {
  // Synthesized once for the whole file: bundling the functions with esbuild takes a few seconds.
  root = createEntryRoot();
  const app = testApp(root);
  stack = new McpttSystemStack(app, 'Mcptt-primary-example', { system: SYSTEM, entryRoot: root.dir });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
  outdir = app.outdir;
  tableId = logicalId(stack.table);
  secretId = logicalId(stack.tokenSecret);
  edgeTokenId = logicalId(stack.edgeControlToken);
  machineId = logicalId(stack.callSetup.stateMachine);
  queueId = logicalId(stack.interrogationQueue);
  dlqId = logicalId(stack.interrogationDlq);
  for (const spec of FUNCTIONS) {
    const fn = stack.functions[spec.name];
    functionId[spec.name] = logicalId(fn);
    roleId[spec.name] = logicalId(fn.role as unknown as { node: { defaultChild?: unknown } });
  }
}, 120_000);

afterAll(() => root?.dispose());

describe('Stack: McpttSystemStack', () => {
  describe('Resource: table', () => {
    it('has one table, keyed by pk (HASH) and sk (RANGE), both strings', () => {
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
      });
    });

    it.each(Object.values(INDEXES))('has GSI $name ($partitionKey, $sortKey), projection ALL', (index) => {
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        GlobalSecondaryIndexes: Match.arrayWith([
          {
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ]),
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: index.partitionKey, AttributeType: 'S' },
          { AttributeName: index.sortKey, AttributeType: 'S' },
        ]),
      });
    });

    it('has exactly the GSIs of the table design', () => {
      const gsis = res(tableId).Properties.GlobalSecondaryIndexes as { IndexName: string }[];
      expect(gsis.map((g) => g.IndexName).sort()).toEqual(
        Object.values(INDEXES)
          .map((i) => i.name)
          .sort(),
      );
    });

    it('expires items by the ttl attribute, bills on demand, has PITR and deletion protection', () => {
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      });
    });

    it('is retained when the stack is deleted or the table replaced', () => {
      template.hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    });
  });

  describe('Resource: secrets', () => {
    it('has the token-signing key and the edge control token, nothing else', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 2);
      expect(res(secretId).Type).toBe('AWS::SecretsManager::Secret');
      expect(res(edgeTokenId).Type).toBe('AWS::SecretsManager::Secret');
    });

    it('generates a 64-character signing key and a 48-character edge token, without punctuation', () => {
      expect(res(secretId).Properties.GenerateSecretString).toMatchObject({
        PasswordLength: 64,
        ExcludePunctuation: true,
      });
      expect(res(edgeTokenId).Properties.GenerateSecretString).toMatchObject({
        PasswordLength: 48,
        ExcludePunctuation: true,
      });
    });
  });

  describe('Resource: functions', () => {
    it('has one function per FUNCTIONS entry', () => {
      template.resourceCountIs('AWS::Lambda::Function', FUNCTIONS.length);
    });

    it.each(FUNCTIONS.map((f) => [f.name, f] as const))(
      '%s: Node.js 22, arm64, traced, JSON logs',
      (name) => {
        const props = res(functionId[name]).Properties;
        expect(props).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          MemorySize: 512,
          Handler: 'index.handler',
          Timeout: TIMEOUT_SECONDS[name] ?? DEFAULT_TIMEOUT_SECONDS,
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
        });
      },
    );

    it('gives regroups 29 s, the partner interrogator 15 s and the others 10 s', () => {
      const timeouts = Object.fromEntries(
        FUNCTIONS.map((f) => [f.name, res(functionId[f.name]).Properties.Timeout]),
      );
      const expected: Partial<Record<FunctionName, number>> = { regroups: 29, 'partner-interrogator': 15 };
      for (const f of FUNCTIONS) expect(timeouts[f.name]).toBe(expected[f.name] ?? 10);
    });

    /** What each function's environment holds beyond the common variables. */
    const extraEnvironment = (name: FunctionName): Record<string, unknown> => {
      const edge = {
        [ENV.edgeControlUrl]: EDGE_CONTROL_URL,
        [ENV.edgeControlTokenArn]: { Ref: edgeTokenId },
      };
      return {
        ...(TOKEN_FUNCTIONS.has(name) ? { [ENV.tokenSecretArn]: { Ref: secretId } } : {}),
        ...(name === 'call-routing'
          ? {
              ...edge,
              [ENV.stateMachineArn]: { Ref: machineId },
              [ENV.holdTimeoutMs]: String(DEFAULT_HOLD_TIMEOUT_MS),
            }
          : {}),
        ...(name === 'call-setup-tasks' ? { ...edge, [ENV.apiUrl]: expect.anything() } : {}),
        ...(name === 'partner-api' ? edge : {}),
        ...(name === 'message-relay' ? edge : {}),
        ...(name === 'regroups' ? { [ENV.messageRelayFunction]: { Ref: functionId['message-relay'] } } : {}),
      };
    };

    it.each(FUNCTIONS.map((f) => f.name))('%s: environment', (name) => {
      const spec = FUNCTIONS.find((f) => f.name === name);
      expect(res(functionId[name]).Properties.Environment).toEqual({
        Variables: {
          // A function without table access is not told its name.
          ...(spec?.table === 'none' ? {} : { [ENV.tableName]: { Ref: tableId } }),
          [ENV.systemDomain]: SYSTEM,
          [ENV.partnerTimeoutMs]: '3000',
          NODE_OPTIONS: '--enable-source-maps',
          ...extraEnvironment(name),
        },
      });
    });

    it('gives call-setup-tasks the URL of its own HTTP API (where the edge reports leg results)', () => {
      const apiUrl = JSON.stringify(
        (res(functionId['call-setup-tasks']).Properties.Environment as { Variables: Record<string, unknown> })
          .Variables[ENV.apiUrl],
      );
      expect(apiUrl).toContain(`"${logicalId(stack.api)}"`);
      expect(apiUrl).toContain('execute-api');
    });

    it('logs each function to its own log group kept one month', () => {
      const groups = new Set(
        FUNCTIONS.map((f) => {
          const ref = (res(functionId[f.name]).Properties.LoggingConfig as { LogGroup: { Ref: string } })
            .LogGroup.Ref;
          expect(resources[ref]).toMatchObject({
            Type: 'AWS::Logs::LogGroup',
            Properties: { RetentionInDays: 30 },
          });
          return ref;
        }),
      );
      expect(groups.size).toBe(FUNCTIONS.length);
    });

    it('bundles ESM with the createRequire banner, a source map and the AWS SDK inside', () => {
      const props = res(functionId[SDK_IMPORTING_FUNCTION]).Properties as { Code: { S3Key: string } };
      const hash = props.Code.S3Key.replace(/\.zip$/, '');
      const assetDir = join(outdir, `asset.${hash}`);
      expect(readdirSync(assetDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
      const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
      expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
      // Bundled, not left as an import of the runtime's SDK.
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(code).toContain('DescribeTable');
    });
  });

  describe('Resource: IAM grants', () => {
    it.each(FUNCTIONS.map((f) => [f.name, f.table] as const))('%s (%s): DynamoDB actions', (name, access) => {
      const statements = actionsOf(statementsOfRole(roleId[name]), 'dynamodb:');
      const actions = [...new Set(statements.flatMap((s) => asArray(s.Action)))].sort();
      // Exactly what its code runs (lib/function-access.ts; test/cdk/least-privilege.test.ts checks the
      // code against that list), and a `read` function never writes.
      expect(actions).toEqual([...FUNCTION_ACCESS[name].table].sort());
      if (access === 'read') for (const a of WRITE_ACTIONS) expect(actions).not.toContain(a);
      expect(actions.some((a) => a.includes('*'))).toBe(false);
    });

    it('scopes every DynamoDB statement to the table or to one named index, never *', () => {
      const all = Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((r) => statementsOf(r));
      const dynamo = actionsOf(all, 'dynamodb:');
      const withTable = FUNCTIONS.filter((f) => FUNCTION_ACCESS[f.name].table.length > 0).length;
      const withIndexes = FUNCTIONS.filter((f) => FUNCTION_ACCESS[f.name].indexes.length > 0).length;
      expect(withTable).toBe(FUNCTIONS.filter((f) => f.table !== 'none').length);
      expect(dynamo.length).toBe(withTable + withIndexes);
      const indexNames = Object.values(INDEXES).map((i) => i.name);
      for (const s of dynamo) {
        for (const resource of asArray(s.Resource)) {
          expect(resource).not.toBe('*');
          const text = JSON.stringify(resource);
          expect(text).toContain(`"${tableId}"`);
          if (text.includes('/index/')) {
            expect(asArray(s.Action)).toEqual(['dynamodb:Query']);
            expect(indexNames.some((n) => text.endsWith(`/index/${n}"]]}`))).toBe(true);
          } else expect(resource).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
        }
      }
    });

    /** Roles whose policies allow a Secrets Manager action on the secret with logical id `id`. */
    const readersOf = (id: string): string[] =>
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) =>
          actionsOf(statementsOf(r), 'secretsmanager:').some((s) =>
            JSON.stringify(s.Resource).includes(`"${id}"`),
          ),
        )
        .flatMap((r) => (r.Properties.Roles as { Ref: string }[]).map((role) => role.Ref));

    it('lets exactly the edge-calling functions and the edge task read the edge control token', () => {
      expect(readersOf(edgeTokenId).sort()).toEqual(
        [
          ...EDGE_CONTROL_CLIENTS.map((f) => roleId[f]),
          logicalId(stack.edge.taskDefinition.taskRole as never),
        ].sort(),
      );
      expect([...EDGE_CONTROL_CLIENTS].sort()).toEqual([
        'call-routing',
        'call-setup-tasks',
        'message-relay',
        'partner-api',
      ]);
    });

    it('lets exactly the functions that sign or verify tokens read the signing key', () => {
      const expected = FUNCTIONS.filter((f) => TOKEN_FUNCTIONS.has(f.name)).map((f) => roleId[f.name]);
      expect(expected.length).toBe(5);
      expect(readersOf(secretId).sort()).toEqual(expected.sort());
      for (const f of FUNCTIONS.filter((f) => TOKEN_FUNCTIONS.has(f.name))) {
        const actions = actionsOf(statementsOfRole(roleId[f.name]), 'secretsmanager:').flatMap((s) =>
          asArray(s.Action),
        );
        expect(actions).toContain('secretsmanager:GetSecretValue');
        expect(
          actions.every(
            (a) => a === 'secretsmanager:GetSecretValue' || a === 'secretsmanager:DescribeSecret',
          ),
        ).toBe(true);
      }
    });
  });

  describe('Resource: message relay', () => {
    it('lets regroups invoke the message relay, that function only (unqualified ARN, no wildcard)', () => {
      expect(MESSAGE_RELAY_CLIENTS).toEqual(['regroups']);
      const invoke = actionsOf(statementsOfRole(roleId.regroups), 'lambda:');
      expect(invoke).toEqual([
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: { 'Fn::GetAtt': [functionId['message-relay'], 'Arn'] },
        },
      ]);
      for (const f of FUNCTIONS.filter((f) => f.name !== 'regroups')) {
        expect(actionsOf(statementsOfRole(roleId[f.name]), 'lambda:'), f.name).toEqual([]);
      }
    });

    it('retries a failed relay invocation twice at most, within 10 minutes of the regroup', () => {
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: functionId['message-relay'] },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: MESSAGE_RELAY_RETRY_ATTEMPTS,
        MaximumEventAgeInSeconds: MESSAGE_RELAY_MAX_EVENT_AGE_SECONDS,
      });
      expect([MESSAGE_RELAY_RETRY_ATTEMPTS, MESSAGE_RELAY_MAX_EVENT_AGE_SECONDS]).toEqual([2, 600]);
    });

    it('has no trigger of its own: no route, no event source, no resource-based permission', () => {
      const relay = functionId['message-relay'];
      const mentions = Object.values(resources).filter(
        (r) =>
          [
            'AWS::Lambda::Permission',
            'AWS::Lambda::EventSourceMapping',
            'AWS::ApiGatewayV2::Integration',
          ].includes(r.Type) && JSON.stringify(r.Properties).includes(`"${relay}"`),
      );
      expect(mentions).toEqual([]);
    });
  });

  describe('Resource: HTTP API', () => {
    const routeResources = (): Resource[] =>
      Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    /** Logical id of the integration a route targets (`integrations/<Ref>`). */
    const integrationTarget = (route: Resource): string =>
      (route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] })['Fn::Join'][1][1].Ref;

    it('has one HTTP API with a throttled $default stage', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
        AccessLogSettings: Match.objectLike({ Format: Match.stringLikeRegexp('\\$context\\.requestId') }),
      });
    });

    it('has every route of ROUTES exactly once, and no other', () => {
      const keys = routeResources().map((r) => r.Properties.RouteKey as string);
      expect(keys.sort()).toEqual(ROUTES.map(routeKey).sort());
      expect(new Set(keys).size).toBe(keys.length);
    });

    it.each(ROUTES.map((r) => [routeKey(r), r.auth] as const))('%s (%s): authorization', (key, auth) => {
      const route = routeResources().find((r) => r.Properties.RouteKey === key);
      expect(route?.Properties.AuthorizationType).toBe(auth === 'edge' ? 'AWS_IAM' : 'NONE');
    });

    it('integrates each route with its function, one integration per function', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Integration', API_FUNCTIONS.length);
      for (const spec of ROUTES) {
        const route = routeResources().find((r) => r.Properties.RouteKey === routeKey(spec));
        const integration = resources[integrationTarget(route as Resource)];
        expect(integration?.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: { 'Fn::GetAtt': [functionId[spec.fn], 'Arn'] },
        });
      }
    });

    it('lets API Gateway invoke each function on its routes only', () => {
      const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
      expect(permissions.length).toBe(ROUTES.length);
      for (const p of permissions) {
        expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
        const fn = (p.Properties.FunctionName as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const name = FUNCTIONS.find((f) => functionId[f.name] === fn)?.name;
        const sourceArn = JSON.stringify(p.Properties.SourceArn);
        const path = /"\/\*\/\*(\/[^"]*)"/.exec(sourceArn)?.[1];
        expect(ROUTES.some((r) => r.fn === name && r.path === path)).toBe(true);
      }
    });
  });

  describe('Resource: call setup workflow', () => {
    /** The roles allowed an action starting with `prefix` on a resource that mentions `id`. */
    const rolesAllowed = (prefix: string, id: string): string[] =>
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) =>
          actionsOf(statementsOf(r), prefix).some((s) => JSON.stringify(s.Resource).includes(`"${id}"`)),
        )
        .flatMap((r) => (r.Properties.Roles as { Ref: string }[]).map((role) => role.Ref));
    const stateActionsOf = (name: FunctionName): string[] =>
      actionsOf(statementsOfRole(roleId[name]), 'states:').flatMap((s) => asArray(s.Action));

    it('has one Standard state machine, traced and logged', () => {
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      expect(res(machineId).Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
      });
    });

    it('invokes only the call-setup-tasks function', () => {
      const definition = JSON.stringify(res(machineId).Properties.DefinitionString);
      const invoked = FUNCTIONS.filter((f) => definition.includes(`"${functionId[f.name]}"`)).map(
        (f) => f.name,
      );
      expect(invoked).toEqual(['call-setup-tasks']);
    });

    it('queues partner interrogations encrypted, TLS only, with a DLQ after 3 receives', () => {
      expect(res(queueId).Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        VisibilityTimeout: INTERROGATION_VISIBILITY_SECONDS,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 3 },
      });
      expect(INTERROGATION_MAX_RECEIVE_COUNT).toBe(3);
      expect(res(dlqId).Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 86400,
      });
      for (const id of [queueId, dlqId]) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: id }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });

    it('delivers the queue to the partner interrogator with partial batch failures', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        FunctionName: { Ref: functionId['partner-interrogator'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('lets only the state machine send to the queue, and only the interrogator consume it', () => {
      expect(rolesAllowed('sqs:SendMessage', queueId)).toEqual([
        logicalId(stack.callSetup.stateMachine.role as unknown as { node: { defaultChild?: unknown } }),
      ]);
      expect(rolesAllowed('sqs:ReceiveMessage', queueId)).toEqual([roleId['partner-interrogator']]);
      expect(rolesAllowed('sqs:', dlqId)).toEqual([]);
    });

    it('gives each function exactly the Step Functions actions it calls', () => {
      const expected: Partial<Record<FunctionName, string[]>> = {
        'call-routing': ['states:StartExecution', 'states:StopExecution'],
        'member-response': ['states:SendTaskSuccess'],
        'call-setup-tasks': ['states:SendTaskSuccess'],
        'partner-interrogator': ['states:SendTaskFailure', 'states:SendTaskSuccess'],
      };
      for (const f of FUNCTIONS)
        expect(stateActionsOf(f.name).sort(), f.name).toEqual(expected[f.name] ?? []);
      for (const s of actionsOf(statementsOfRole(roleId['call-routing']), 'states:')) {
        expect(JSON.stringify(s.Resource)).toContain(machineId);
      }
    });
  });

  describe('Outputs', () => {
    it('exports the API URL, table, secrets, state machine and DLQ', () => {
      template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
      template.hasOutput('TableName', { Value: { Ref: tableId } });
      template.hasOutput('TokenSecretArn', { Value: { Ref: secretId } });
      template.hasOutput('EdgeControlTokenArn', { Value: { Ref: edgeTokenId } });
      template.hasOutput('CallSetupStateMachineArn', { Value: { Ref: machineId } });
      template.hasOutput('InterrogationDlqUrl', { Value: { Ref: dlqId } });
    });
  });

  describe('Props', () => {
    it('can turn deletion protection off (the table is still retained)', () => {
      const s = new McpttSystemStack(testApp(root, false), 'Mcptt-demo-example', {
        system: 'demo.example',
        deletionProtection: false,
        entryRoot: root.dir,
      });
      const t = Template.fromStack(s);
      t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
      });
      t.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
    });

    it('grantEdgeInvoke lets a role call the edge routes, and only them', () => {
      const s = new McpttSystemStack(testApp(root, false), 'Mcptt-edge-example', {
        system: 'edge.example',
        entryRoot: root.dir,
      });
      const role = new Role(s, 'EdgeRole', { assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com') });
      s.grantEdgeInvoke(role);
      const statements = Object.values(Template.fromStack(s).toJSON().Resources as Record<string, Resource>)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) =>
          JSON.stringify(r.Properties.Roles).includes(s.getLogicalId(role.node.defaultChild as CfnElement)),
        )
        .flatMap((r) => statementsOf(r));
      const invoke = actionsOf(statements, 'execute-api:');
      const arns = invoke.flatMap((st) => asArray(st.Resource)).map((r) => JSON.stringify(r));
      const edge = ROUTES.filter((r) => r.auth === 'edge');
      expect(arns).toHaveLength(edge.length);
      // Path parameters become `*` in the execute-api ARN.
      for (const r of edge) {
        const arnPath = `/*/${r.method}${r.path.replace(/\{[^}]+\}/g, '*')}"`;
        expect(arns.filter((a) => a.includes(arnPath))).toHaveLength(1);
      }
    });

    it('rejects an invalid system domain', () => {
      expect(
        () =>
          new McpttSystemStack(testApp(root, false), 'Mcptt-bad', {
            system: 'not a domain',
            entryRoot: root.dir,
          }),
      ).toThrow(/McpttSystemStack Mcptt-bad: system: "not a domain" is not a fully qualified domain name/);
      expect(
        () =>
          new McpttSystemStack(testApp(root, false), 'Mcptt-bad', {
            system: 'bad_name.example',
            entryRoot: root.dir,
          }),
      ).toThrow(/invalid label "bad_name"/);
    });

    it('lists the missing function entry files', () => {
      const empty = join(root.dir, 'no-such-root');
      expect(existsSync(empty)).toBe(false);
      expect(
        () =>
          new McpttSystemStack(testApp(root, false), 'Mcptt-x-example', {
            system: 'x.example',
            entryRoot: empty,
          }),
      ).toThrow(
        /function entry files not found:[\s\S]*functions\/health\/handler\.ts[\s\S]*functions\/affiliation/,
      );
    });

    it('uses the repository root for entries by default', () => {
      expect(existsSync(join(REPO_ROOT, 'package.json'))).toBe(true);
      expect(existsSync(join(REPO_ROOT, 'lib', 'routes.ts'))).toBe(true);
    });
  });
});
