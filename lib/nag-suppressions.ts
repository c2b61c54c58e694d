/**
 * The cdk-nag (AwsSolutions pack) findings this design accepts, all in one place, each acknowledged on
 * the narrowest construct that has it, with the reason it is accepted. test/cdk/cdk-nag.test.ts
 * synthesizes the stacks with the pack and fails on any finding not acknowledged here (cdk-nag 3:
 * `Validations.of(construct).acknowledge`, one call per rule or finding).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { FUNCTION_ACCESS } from './function-access.ts';
import type { McpttSystemStack } from './mcptt-system-stack.ts';
import { FUNCTIONS, ROUTES, type RouteAuth, routeKey } from './routes.ts';

/** One acknowledgement as applied: where, which rule or finding, why. */
export interface NagAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** The rule (or finding) ids and reasons acknowledged on each construct path, for review and tests. */
export const ACKNOWLEDGEMENTS = new WeakMap<McpttSystemStack, NagAcknowledgement[]>();

/** Why routes without API Gateway authorization are acceptable, by their `auth` in lib/routes.ts. */
const UNAUTHORIZED_ROUTE_REASON: Readonly<Record<Exclude<RouteAuth, 'edge'>, string>> = {
  none:
    'Public by design: the health check and the log-in (which issues the bearer tokens) are called ' +
    'before any credential exists; the log-in checks the password hash itself and the stage is throttled.',
  token:
    'Authorized inside the function: it verifies the bearer JWT (signature with the key in Secrets ' +
    'Manager, expiry, role) before anything else (functions/shared/http-function.ts, decision 0004); an ' +
    'API Gateway JWT authorizer would need an OIDC issuer the system does not have.',
  partner:
    'Called by partner MCPTT systems, which have no AWS identity here: the function checks the per-partner ' +
    'HMAC signature, its freshness and a one-time nonce before anything else (functions/shared/partner-auth.ts, ' +
    'decision 0003).',
};

/** A resolved CloudFormation value as cdk-nag renders it in finding ids (`<Id>`, `<Id.Attr>`, joins). */
const render = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
    const join = o['Fn::Join'];
    if (Array.isArray(join)) return (join[1] as unknown[]).map(render).join(String(join[0]));
  }
  return JSON.stringify(v);
};

/**
 * The resources with a wildcard (other than a bare `*`) in the statements of an IAM policy construct,
 * as cdk-nag names them in its IAM5 finding ids (account, region and partition as the stack has them).
 */
const wildcardResources = (policy: IConstruct): string[] => {
  const cfn = policy.node.defaultChild as CfnPolicy;
  const doc = Stack.of(policy).resolve(cfn.policyDocument) as { Statement: { Resource?: unknown }[] };
  return doc.Statement.flatMap((st) => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]))
    .filter((r) => r !== undefined)
    .map(render)
    .filter((r) => r.includes('*') && r !== '*');
};

/** Acknowledges the accepted findings of one system stack. */
export function acknowledgeNagFindings(stack: McpttSystemStack): void {
  const applied: NagAcknowledgement[] = [];
  const ack = (scope: IConstruct, id: string, reason: string): void => {
    Validations.of(scope).acknowledge({ id, reason });
    applied.push({ path: scope.node.path, id, reason });
  };

  // --- Secrets -----------------------------------------------------------------------------------
  ack(
    stack.tokenSecret,
    'AwsSolutions-SMG4',
    'Rotating the bearer-token signing key invalidates every issued token at once (log-in sessions of ' +
      'dispatchers and admins); it is rotated by an operator procedure (update the secret, tokens expire ' +
      'within their lifetime), not by a rotation Lambda.',
  );
  ack(
    stack.edgeControlToken,
    'AwsSolutions-SMG4',
    'The edge control token is read once per edge task and per function container; automatic rotation ' +
      'would split edge and functions between two tokens until both restart. Rotated by redeploying ' +
      '(new value, then a rolling restart of the edge service).',
  );

  // --- Functions ----------------------------------------------------------------------------------
  for (const spec of FUNCTIONS) {
    const fn = stack.functions[spec.name];
    ack(
      fn,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime the functions are bundled for (esbuild target node22) and tested on; a move ' +
        'to a newer Lambda runtime is its own change with its own test run.',
    );
    const policy = stack.roleOf(spec.name).node.tryFindChild('DefaultPolicy');
    if (policy !== undefined) {
      ack(
        policy,
        'AwsSolutions-IAM5[Resource::*]',
        FUNCTION_ACCESS[spec.name].edgeControl
          ? 'Two statements on "*": X-Ray PutTraceSegments/PutTelemetryRecords (active tracing; X-Ray has no ' +
              'resource-level permissions) and the EC2 network-interface actions Lambda needs to attach the ' +
              'function to the VPC (Describe* support no resource; the same set as AWSLambdaVPCAccessExecutionRole).'
          : 'X-Ray PutTraceSegments/PutTelemetryRecords for active tracing: X-Ray has no resource-level ' +
              'permissions, so "*" is the only resource.',
      );
    }
  }
  const routingStates = stack.node.tryFindChild('CallRoutingStatesPolicy');
  if (routingStates !== undefined) {
    for (const resource of wildcardResources(routingStates)) {
      ack(
        routingStates,
        `AwsSolutions-IAM5[Resource::${resource}]`,
        'StopExecution on the executions of the call setup state machine only: an execution is named after ' +
          'its call, which exists only at run time, hence the wildcard after the machine name.',
      );
    }
  }
  const machineRolePolicy = stack.callSetup.stateMachine.role.node.tryFindChild('DefaultPolicy');
  if (machineRolePolicy !== undefined) {
    for (const resource of wildcardResources(machineRolePolicy)) {
      ack(
        machineRolePolicy,
        `AwsSolutions-IAM5[Resource::${resource}]`,
        'Added by the Step Functions LambdaInvoke task: invoke of the call-setup-tasks function and its ' +
          'versions/aliases (ARN:*); no other function.',
      );
    }
    ack(
      machineRolePolicy,
      'AwsSolutions-IAM5[Resource::*]',
      'Added by Step Functions for its execution logs and tracing: the CloudWatch Logs log-delivery actions ' +
        '(Create/Get/Update/Delete/ListLogDeliveries, Put/DescribeResourcePolicies, DescribeLogGroups) and ' +
        'X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) support no resource-level permissions.',
    );
  }

  // --- HTTP API -----------------------------------------------------------------------------------
  for (const spec of ROUTES) {
    if (spec.auth === 'edge') continue;
    const route = stack.routes.get(routeKey(spec));
    if (route !== undefined) ack(route, 'AwsSolutions-APIG4', UNAUTHORIZED_ROUTE_REASON[spec.auth]);
  }

  // --- Network ------------------------------------------------------------------------------------
  // (Interface endpoint groups admit the VPC's literal range only: no finding.)

  // --- SIP edge -----------------------------------------------------------------------------------
  const edge = stack.edge;
  if (edge.sipIngressCidr === '0.0.0.0/0') {
    ack(
      edge.loadBalancerSecurityGroup,
      'AwsSolutions-EC23',
      'The SIP listeners (UDP/TCP 5060, TLS 5061) serve members devices on any network (mobile, satellite, ' +
        'partner agencies), as a public SIP service must; only those ports are open, every request is digest ' +
        'authenticated by the edge, and edge.sipIngressCidr narrows it where the devices have known ranges.',
    );
  }
  ack(
    edge.loadBalancer,
    'AwsSolutions-ELB2',
    'Network Load Balancer access logs cover TLS listeners only; SIP over UDP and TCP is not logged by ' +
      'the load balancer. The edge logs every request and transaction to CloudWatch Logs and the VPC flow ' +
      'logs record every flow.',
  );
  ack(
    edge.taskDefinition,
    'AwsSolutions-ECS2',
    'The environment holds configuration only (domain, ports, API URL, secret ARN, metrics endpoint); the ' +
      'one secret, the edge control token, is read from Secrets Manager by ARN at start.',
  );
  const taskPolicy = edge.taskDefinition.taskRole.node.tryFindChild('DefaultPolicy');
  if (taskPolicy !== undefined) {
    for (const resource of wildcardResources(taskPolicy)) {
      ack(
        taskPolicy,
        `AwsSolutions-IAM5[Resource::${resource}]`,
        'execute-api:Invoke on one `edge` route of the system API (HttpRoute.grantInvoke): "*" stands for ' +
          'the stage and for path parameters, whose values (member identities) exist only at run time.',
      );
    }
  }
  const executionPolicy = edge.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy');
  if (executionPolicy !== undefined) {
    ack(
      executionPolicy,
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken, added by ECS for pulling the edge image, has no resource-level ' +
        'permissions; the pull actions themselves are scoped to the image repository.',
    );
  }
  ACKNOWLEDGEMENTS.set(stack, applied);
}
