/**
 * One MCPTT system on AWS: its DynamoDB table, token-signing secret, one Lambda function per entry of
 * FUNCTIONS and the HTTP API exposing ROUTES (both from lib/routes.ts, shared with the local runtime),
 * the call setup workflow (lib/call-setup-workflow.ts) with its partner interrogation queue and DLQ, the
 * VPC (lib/network.ts), the SIP edge service (lib/sip-edge-service.ts), alarms and dashboard
 * (lib/monitoring.ts). Every function role holds exactly the permissions of lib/function-access.ts; the
 * accepted cdk-nag findings are acknowledged in lib/nag-suppressions.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import {
  type Grant,
  type IGrantable,
  Policy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../adapters/dynamo/table-design.ts';
import { DEFAULT_HOLD_TIMEOUT_MS } from '../functions/shared/deps.ts';
import { CallSetupWorkflow } from './call-setup-workflow.ts';
import { EDGE_CONTROL_URL } from './edge-config.ts';
import { EDGE_CONTROL_CLIENTS, FUNCTION_ACCESS, MESSAGE_RELAY_CLIENTS } from './function-access.ts';
import { McpttMonitoring } from './monitoring.ts';
import { acknowledgeNagFindings } from './nag-suppressions.ts';
import { McpttNetwork } from './network.ts';
import {
  ENV,
  FUNCTIONS,
  type FunctionName,
  type FunctionSpec,
  ROUTES,
  type RouteAuth,
  routeKey,
} from './routes.ts';
import { SipEdgeService } from './sip-edge-service.ts';
import { validateDomain } from './systems-from-config.ts';

/** The repository root (parent of lib/): the default root of the function entries and of package-lock.json. */
export const REPO_ROOT: string = fileURLToPath(new URL('..', import.meta.url));

/** Lambda timeout per function, seconds; functions not listed get {@link DEFAULT_TIMEOUT_SECONDS}. */
export const TIMEOUT_SECONDS: Readonly<Partial<Record<FunctionName, number>>> = {
  // Calls every partner of a regroup; stays just under the HTTP API's 30 s integration limit.
  regroups: 29,
  // Interrogates one partner per message (the partner API call times out after PARTNER_TIMEOUT_MS).
  'partner-interrogator': 15,
};

/**
 * Asynchronous invocations of the message-relay function: how often Lambda retries one whose call to the
 * edge failed, and how long an event may wait (a regroup notice much later than the regroup misleads).
 */
export const MESSAGE_RELAY_RETRY_ATTEMPTS = 2;
export const MESSAGE_RELAY_MAX_EVENT_AGE_SECONDS = 600;
/**
 * The functions that issue or verify bearer tokens (`token` routes and log-in), hence read the
 * token-signing key; the others (health, edge and partner routes, workflow tasks) never see it.
 */
export const TOKEN_FUNCTIONS: ReadonlySet<FunctionName> = new Set<FunctionName>([
  'auth',
  'users',
  'groups',
  'agreements',
  'regroups',
]);

/** Lambda timeout of functions not in {@link TIMEOUT_SECONDS}, seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

/**
 * Banner of every bundle: ESM output has no `require`, which bundled CommonJS dependencies still call
 * (for Node built-ins); this gives them one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** Properties of {@link McpttSystemStack}. */
export interface McpttSystemStackProps extends StackProps {
  /** The MCPTT system's domain, e.g. `primary.example` (validated, lower-cased). */
  readonly system: string;
  /**
   * DynamoDB deletion protection on the table. The table is retained on stack deletion either way.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Directory that the FUNCTIONS' `entry` paths are relative to; it is also the esbuild project root and
   * must contain `package-lock.json` and `node_modules` (esbuild is run from there with `npx --no-install`).
   * Only tests change this (to a directory of trivial handlers).
   * @default the repository root ({@link REPO_ROOT})
   */
  readonly entryRoot?: string;
  /**
   * Timeout of one call to a partner system's API, milliseconds (env `PARTNER_TIMEOUT_MS`).
   * @default 3000
   */
  readonly partnerTimeoutMs?: number;
  /**
   * Throttling of the HTTP API's default stage (all routes).
   * @default 500 requests per second, burst 1000
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Base URL of the system's SIP edge control API, as the functions reach it (env `EDGE_CONTROL_URL`):
   * where the call setup tasks send leg batches and held final responses.
   * @default the edge service's Cloud Map name in the VPC ({@link EDGE_CONTROL_URL})
   */
  readonly edgeControlUrl?: string;
  /** The SIP edge service (lib/sip-edge-service.ts). */
  readonly edge?: {
    /**
     * The container image.
     * @default built from the repository's Dockerfile (staged at synth; built by `cdk deploy`)
     */
    readonly image?: ContainerImage;
    /** Who may send SIP to the load balancer. @default 0.0.0.0/0 */
    readonly sipIngressCidr?: string;
    /** ACM certificate ARN of the TLS listener on 5061; no TLS listener without it. */
    readonly tlsCertificateArn?: string;
    /** @default 1 */
    readonly minTasks?: number;
    /** @default 1 (see decision 0011, "Several tasks") */
    readonly maxTasks?: number;
  };
  /** The VPC's IPv4 range. @default 10.60.0.0/16 */
  readonly vpcCidr?: string;
  /** Alarm notifications (lib/monitoring.ts). */
  readonly alarms?: {
    /** Create the encrypted alarm topic. @default true */
    readonly topic?: boolean;
    /** E-mail addresses subscribed to it. */
    readonly emails?: readonly string[];
  };
  /**
   * How long the edge holds a group call INVITE for the workflow's final response, milliseconds.
   * @default DEFAULT_HOLD_TIMEOUT_MS (30 s)
   */
  readonly holdTimeoutMs?: number;
}

/** Visibility timeout of the interrogation queue: six times the interrogator's timeout (AWS guidance). */
export const INTERROGATION_VISIBILITY_SECONDS = 6 * 15;
/** Receives of one interrogation message before it goes to the dead-letter queue. */
export const INTERROGATION_MAX_RECEIVE_COUNT = 3;

/** One JSON object per request in the API's access log (HTTP API `$context` variables only). */
const HTTP_API_ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userArn: '$context.identity.userArn',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  error: '$context.error.message',
  integrationError: '$context.integrationErrorMessage',
} as const;

const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

const HTTP_METHOD: Record<(typeof ROUTES)[number]['method'], HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  DELETE: HttpMethod.DELETE,
};

/**
 * The AWS deployment of one MCPTT system (one stack per system, see bin/mcptt-regroup.ts).
 *
 * Resources: a single-table DynamoDB table (keys and GSIs from adapters/dynamo/table-design.ts), a
 * Secrets Manager secret holding the bearer-token signing key, one ARM64 Node.js 22 Lambda function per
 * {@link FUNCTIONS} entry (bundled locally by esbuild, AWS SDK included), and an HTTP API with one route per
 * {@link ROUTES} entry. Outputs: `ApiUrl`, `TableName`, `TokenSecretArn`.
 */
export class McpttSystemStack extends Stack {
  /** The system's domain, lower-cased. */
  readonly system: string;
  /** The system's single table. */
  readonly table: TableV2;
  /** The bearer-token signing key (64 alphanumeric characters). */
  readonly tokenSecret: Secret;
  /** The functions, by name. */
  readonly functions: Readonly<Record<FunctionName, NodejsFunction>>;
  /** The HTTP API. */
  readonly api: HttpApi;
  /** The HTTP API's `$default` stage. */
  readonly stage: HttpStage;
  /** The routes, by route key (`METHOD /path`). */
  readonly routes: ReadonlyMap<string, HttpRoute>;
  /** The bearer token of the SIP edge's control API (the edge and the functions that call it read it). */
  readonly edgeControlToken: Secret;
  /** Partner interrogations of the call setup workflow (consumed by `partner-interrogator`). */
  readonly interrogationQueue: Queue;
  /** Interrogations that failed {@link INTERROGATION_MAX_RECEIVE_COUNT} times. */
  readonly interrogationDlq: Queue;
  /** The call setup workflow (state machine and its log group). */
  readonly callSetup: CallSetupWorkflow;
  /** The VPC and the security group of the edge control API's clients. */
  readonly network: McpttNetwork;
  /** The SIP edge service (Fargate behind the Network Load Balancer). */
  readonly edge: SipEdgeService;
  /** Alarms and dashboard. */
  readonly monitoring: McpttMonitoring;

  constructor(scope: Construct, id: string, props: McpttSystemStackProps) {
    super(scope, id, props);
    this.system = validateDomain(props.system, `McpttSystemStack ${id}: system`);
    const entryRoot = props.entryRoot ?? REPO_ROOT;
    Tags.of(this).add('mcptt:system', this.system);

    // --- Table ---------------------------------------------------------------------------------
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: Object.values(INDEXES).map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      })),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // --- Token signing key ---------------------------------------------------------------------
    this.tokenSecret = new Secret(this, 'TokenSigningKey', {
      description: `Signing key of the bearer tokens issued by ${this.system}`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });

    this.edgeControlToken = new Secret(this, 'EdgeControlToken', {
      description: `Bearer token of the SIP edge control API of ${this.system}`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });

    // --- Network ---------------------------------------------------------------------------------
    this.network = new McpttNetwork(this, 'Network', props.vpcCidr ? { cidr: props.vpcCidr } : {});

    // --- Functions -----------------------------------------------------------------------------
    const missing = FUNCTIONS.map((f) => join(entryRoot, f.entry)).filter((p) => !existsSync(p));
    if (missing.length > 0) {
      throw new Error(`McpttSystemStack ${id}: function entry files not found:\n  ${missing.join('\n  ')}`);
    }
    const environment: Record<string, string> = {
      [ENV.tableName]: this.table.tableName,
      [ENV.systemDomain]: this.system,
      [ENV.partnerTimeoutMs]: String(props.partnerTimeoutMs ?? 3000),
      NODE_OPTIONS: '--enable-source-maps',
    };
    const functions: Partial<Record<FunctionName, NodejsFunction>> = {};
    for (const spec of FUNCTIONS) functions[spec.name] = this.createFunction(spec, entryRoot, environment);
    this.functions = functions as Record<FunctionName, NodejsFunction>;

    // --- Call setup workflow -------------------------------------------------------------------
    this.interrogationDlq = new Queue(this, 'InterrogationDlq', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.interrogationQueue = new Queue(this, 'InterrogationQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(INTERROGATION_VISIBILITY_SECONDS),
      // A message outliving the per-partner task timeout only meets an expired task token.
      retentionPeriod: Duration.minutes(5),
      deadLetterQueue: { queue: this.interrogationDlq, maxReceiveCount: INTERROGATION_MAX_RECEIVE_COUNT },
    });
    const partnerTimeoutMs = props.partnerTimeoutMs ?? 3000;
    this.callSetup = new CallSetupWorkflow(this, 'CallSetup', {
      tasks: this.functions['call-setup-tasks'],
      interrogationQueue: this.interrogationQueue,
      // The partner API call's own timeout plus one retry's worth of slack, whole seconds.
      partnerTimeoutSeconds: Math.max(1, Math.ceil(partnerTimeoutMs / 1000)),
    });
    const machine = this.callSetup.stateMachine;
    const interrogator = this.functions['partner-interrogator'];
    interrogator.addEventSource(
      new SqsEventSource(this.interrogationQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxBatchingWindow: Duration.seconds(0),
      }),
    );
    // Step Functions actions, exactly those of FUNCTION_ACCESS. In a policy of each function's own,
    // not its default policy: the function the machine invokes cannot depend on the machine (cycle).
    const executionArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${machine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    for (const spec of FUNCTIONS) {
      const states = FUNCTION_ACCESS[spec.name].states;
      if (states.length === 0) continue;
      const onMachine = states.filter((a) => a !== 'states:StopExecution');
      const statements = [
        ...(onMachine.length > 0
          ? [new PolicyStatement({ actions: [...onMachine], resources: [machine.stateMachineArn] })]
          : []),
        ...(states.includes('states:StopExecution')
          ? [new PolicyStatement({ actions: ['states:StopExecution'], resources: [executionArn] })]
          : []),
      ];
      new Policy(this, `${pascal(spec.name)}StatesPolicy`, {
        roles: [this.roleOf(spec.name)],
        statements,
      });
    }
    const callRouting = this.functions['call-routing'];
    callRouting.addEnvironment(ENV.stateMachineArn, machine.stateMachineArn);
    callRouting.addEnvironment(ENV.holdTimeoutMs, String(props.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS));
    const edgeControlUrl = props.edgeControlUrl ?? EDGE_CONTROL_URL;
    for (const name of EDGE_CONTROL_CLIENTS) {
      const fn = this.functions[name];
      fn.addEnvironment(ENV.edgeControlUrl, edgeControlUrl);
      fn.addEnvironment(ENV.edgeControlTokenArn, this.edgeControlToken.secretArn);
      this.roleOf(name).addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.edgeControlToken.secretArn],
        }),
      );
    }
    // The functions outside the VPC send their SIP MESSAGEs through the message-relay function (in the
    // VPC, an edge control client): its name, and the right to invoke exactly that function (the
    // unqualified ARN: no versions or aliases, no `*`).
    const relay = this.functions['message-relay'];
    relay.configureAsyncInvoke({
      retryAttempts: MESSAGE_RELAY_RETRY_ATTEMPTS,
      maxEventAge: Duration.seconds(MESSAGE_RELAY_MAX_EVENT_AGE_SECONDS),
    });
    for (const name of MESSAGE_RELAY_CLIENTS) {
      this.functions[name].addEnvironment(ENV.messageRelayFunction, relay.functionName);
      this.roleOf(name).addToPrincipalPolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [relay.functionArn] }),
      );
    }

    // --- HTTP API ------------------------------------------------------------------------------
    this.api = new HttpApi(this, 'Api', {
      apiName: `mcptt-${this.system}`,
      description: `MCPTT system ${this.system}`,
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(HTTP_API_ACCESS_LOG_FIELDS)),
      },
    });

    // Only `edge` routes are authorized by API Gateway (IAM, SigV4 from the SIP edge's role). `none`
    // routes are public; `token` routes check the bearer JWT and `partner` routes the per-partner HMAC
    // signature inside the function, so API Gateway lets them through unauthenticated.
    const iamAuthorizer = new HttpIamAuthorizer();
    const noAuthorizer = new HttpNoneAuthorizer();
    const authorizerFor = (auth: RouteAuth): IHttpRouteAuthorizer => {
      switch (auth) {
        case 'edge':
          return iamAuthorizer;
        case 'none':
        case 'token':
        case 'partner':
          return noAuthorizer;
      }
    };
    // One integration per function, shared by all its routes (each route still gets its own
    // lambda:InvokeFunction permission scoped to its method-independent path).
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    const routes = new Map<string, HttpRoute>();
    for (const spec of ROUTES) {
      const key = routeKey(spec);
      if (routes.has(key)) throw new Error(`McpttSystemStack ${id}: duplicate route ${key}`);
      let integration = integrations.get(spec.fn);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(`${pascal(spec.fn)}Integration`, this.functions[spec.fn]);
        integrations.set(spec.fn, integration);
      }
      const route = new HttpRoute(this, `Route ${key}`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(spec.path, HTTP_METHOD[spec.method]),
        integration,
        authorizer: authorizerFor(spec.auth),
      });
      routes.set(key, route);
    }
    this.routes = routes;
    // Where the edge reports leg results (POST /edge/leg-results); not an integration, so no cycle.
    this.functions['call-setup-tasks'].addEnvironment(ENV.apiUrl, this.stage.url);

    // --- SIP edge --------------------------------------------------------------------------------
    const edgeProps = props.edge ?? {};
    this.edge = new SipEdgeService(this, 'Edge', {
      system: this.system,
      network: this.network,
      apiUrl: this.stage.url,
      controlToken: this.edgeControlToken,
      grantEdgeInvoke: (grantee) => this.grantEdgeInvoke(grantee),
      ...(edgeProps.image ? { image: edgeProps.image } : { imageDirectory: REPO_ROOT }),
      ...(edgeProps.sipIngressCidr ? { sipIngressCidr: edgeProps.sipIngressCidr } : {}),
      ...(edgeProps.tlsCertificateArn ? { tlsCertificateArn: edgeProps.tlsCertificateArn } : {}),
      ...(edgeProps.minTasks !== undefined ? { minTasks: edgeProps.minTasks } : {}),
      ...(edgeProps.maxTasks !== undefined ? { maxTasks: edgeProps.maxTasks } : {}),
    });

    // --- Monitoring ------------------------------------------------------------------------------
    this.monitoring = new McpttMonitoring(this, 'Monitoring', {
      system: this.system,
      api: this.api,
      interrogationDlq: this.interrogationDlq,
      stateMachine: machine,
      edge: this.edge,
      alarmTopic: props.alarms?.topic ?? true,
      ...(props.alarms?.emails ? { alarmEmails: props.alarms.emails } : {}),
    });

    // --- Outputs -------------------------------------------------------------------------------
    new CfnOutput(this, 'ApiUrl', { value: this.stage.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'TokenSecretArn', { value: this.tokenSecret.secretArn });
    new CfnOutput(this, 'EdgeControlTokenArn', { value: this.edgeControlToken.secretArn });
    new CfnOutput(this, 'CallSetupStateMachineArn', { value: machine.stateMachineArn });
    new CfnOutput(this, 'InterrogationDlqUrl', { value: this.interrogationDlq.queueUrl });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });

    // cdk-nag (AwsSolutions) findings this design accepts, each with its reason.
    acknowledgeNagFindings(this);
  }

  /** The execution role of function `name` (created by the stack, never by the function). */
  roleOf(name: FunctionName): Role {
    const role = this.functions[name].role;
    if (!(role instanceof Role)) throw new Error(`function ${name} has no role of the stack`);
    return role;
  }

  /**
   * Lets `grantee` (the SIP edge's role) call every `edge` route (`execute-api:Invoke`, SigV4-signed).
   */
  grantEdgeInvoke(grantee: IGrantable): Grant[] {
    return ROUTES.filter((r) => r.auth === 'edge').map((r) => {
      const route = this.routes.get(routeKey(r));
      if (route === undefined) throw new Error(`no route ${routeKey(r)}`);
      return route.grantInvoke(grantee);
    });
  }

  private createFunction(
    spec: FunctionSpec,
    entryRoot: string,
    environment: Record<string, string>,
  ): NodejsFunction {
    const id = pascal(spec.name);
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The stack's own role, not the function's default one: no AWS managed policies (the basic
    // execution policy would allow logs:CreateLogGroup on *), only what FUNCTION_ACCESS lists.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${this.system}: execution role of the ${spec.name} function`,
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const inVpc = FUNCTION_ACCESS[spec.name].edgeControl;
    if (inVpc) {
      // What Lambda needs to attach the function to the VPC (the AWSLambdaVPCAccessExecutionRole actions).
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    const fn = new NodejsFunction(this, `${id}Function`, {
      description: `${this.system}: ${spec.description}`.slice(0, 256),
      entry: join(entryRoot, spec.entry),
      handler: 'handler',
      projectRoot: entryRoot,
      depsLockFilePath: join(entryRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(TIMEOUT_SECONDS[spec.name] ?? DEFAULT_TIMEOUT_SECONDS),
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      role,
      // A function without table access is not told the table's name either.
      environment:
        spec.table === 'none'
          ? Object.fromEntries(Object.entries(environment).filter(([k]) => k !== ENV.tableName))
          : environment,
      ...(inVpc
        ? {
            vpc: this.network.vpc,
            vpcSubnets: this.network.functionSubnets,
            securityGroups: [this.network.edgeClients],
          }
        : {}),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        sourceMap: true,
        minify: true,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK too: the version the tests ran against is the one deployed.
        externalModules: [],
        forceDockerBundling: false,
      },
    });
    // DynamoDB: exactly the actions its code runs (lib/function-access.ts), on the table, and Query on
    // the indexes it queries. No wildcard action, no `index/*`.
    const access = FUNCTION_ACCESS[spec.name];
    if (access.table.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: [...access.table], resources: [this.table.tableArn] }),
      );
    }
    if (access.indexes.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: access.indexes.map((key) => `${this.table.tableArn}/index/${INDEXES[key].name}`),
        }),
      );
    }
    // Only the functions that sign or verify bearer tokens read the signing key.
    if (TOKEN_FUNCTIONS.has(spec.name)) {
      fn.addEnvironment(ENV.tokenSecretArn, this.tokenSecret.secretArn);
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.tokenSecret.secretArn],
        }),
      );
    }
    return fn;
  }
}
