/**
 * The SIP edge service and the network of a system stack: VPC without NAT, endpoints, Fargate ARM64
 * service from the repository's Dockerfile, the Network Load Balancer (TCP_UDP 5060, TLS 5061 with a
 * certificate), HTTP health checks, Cloud Map name of the control API, security groups, autoscaling.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_PORT,
  EDGE_CONTROL_URL,
  EDGE_ENV,
  EDGE_NODE_FLAGS,
  HEALTH_PORT,
  SERVICE_NAMESPACE,
  SIP_PORT,
  SIP_TLS_PORT,
} from '../../lib/edge-config.ts';
import { EDGE_CONTROL_CLIENTS } from '../../lib/function-access.ts';
import { McpttSystemStack } from '../../lib/mcptt-system-stack.ts';
import { METRIC_NAMES, METRIC_NAMESPACE } from '../../lib/metric-names.ts';
import { ENV, FUNCTIONS } from '../../lib/routes.ts';
import { createEntryRoot, type EntryRoot, testApp } from './fixture.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0b1e6b6e-1111-2222-3333-444455556666';

let root: EntryRoot;
let stack: McpttSystemStack;
let template: Template;
let resources: Record<string, Resource>;
let plain: Template;
let outdir: string;
const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const ofType = (type: string, t: Template = template) =>
  Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);

beforeAll(() => {
  root = createEntryRoot();
  const app = testApp(root, false);
  stack = new McpttSystemStack(app, 'Mcptt-primary-example', {
    system: 'primary.example',
    entryRoot: root.dir,
    edge: { tlsCertificateArn: CERT, sipIngressCidr: '198.51.100.0/24', minTasks: 2, maxTasks: 4 },
  });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
  outdir = app.outdir;
  const plainStack = new McpttSystemStack(testApp(root, false), 'Mcptt-partner-example', {
    system: 'partner.example',
    entryRoot: root.dir,
  });
  plain = Template.fromStack(plainStack);
}, 120_000);
afterAll(() => root?.dispose());

describe('Network', () => {
  it('has one VPC over two AZs: 2 public and 2 isolated subnets, no NAT gateway, flow logs', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    const publicIp = ofType('AWS::EC2::Subnet').map(([, r]) => r.Properties.MapPublicIpOnLaunch);
    expect(publicIp.sort()).toEqual([false, false, false, false]);
  });

  it('reaches DynamoDB (gateway), Secrets Manager and Step Functions (interface, private DNS) by endpoints', () => {
    const endpoints = ofType('AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties);
    expect(endpoints).toHaveLength(3);
    const service = (e: Record<string, unknown>) => JSON.stringify(e.ServiceName);
    expect(endpoints.find((e) => service(e).includes('dynamodb'))).toMatchObject({
      VpcEndpointType: 'Gateway',
    });
    for (const name of ['secretsmanager', 'states']) {
      expect(endpoints.find((e) => service(e).includes(`.${name}`))).toMatchObject({
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      });
    }
  });

  it('puts exactly the edge control clients in the isolated subnets, with their security group', () => {
    const clientsSg = id(stack.network.edgeClients);
    for (const spec of FUNCTIONS) {
      const fn = resources[id(stack.functions[spec.name])];
      if ((EDGE_CONTROL_CLIENTS as readonly string[]).includes(spec.name)) {
        expect(fn?.Properties.VpcConfig, spec.name).toMatchObject({
          SecurityGroupIds: [{ 'Fn::GetAtt': [clientsSg, 'GroupId'] }],
          SubnetIds: expect.arrayContaining([
            expect.objectContaining({ Ref: expect.stringMatching(/Functions/) }),
          ]),
        });
        const env =
          (fn?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
        expect(env[ENV.edgeControlUrl]).toBe(EDGE_CONTROL_URL);
      } else expect(fn?.Properties.VpcConfig, spec.name).toBeUndefined();
    }
    expect(EDGE_CONTROL_URL).toBe(`http://edge-control.${SERVICE_NAMESPACE}:${CONTROL_PORT}`);
  });
});

describe('SIP edge service', () => {
  it('runs on an ECS cluster with Container Insights', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('is a Fargate ARM64 task from the Dockerfile: edge container and CloudWatch agent sidecar', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '512',
      Memory: '1024',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    const [, task] = ofType('AWS::ECS::TaskDefinition')[0] as [string, Resource];
    const containers = task.Properties.ContainerDefinitions as Record<string, unknown>[];
    expect(containers.map((c) => c.Name)).toEqual(['edge', 'cloudwatch-agent']);
    const edge = containers[0] as Record<string, unknown>;
    expect(edge).toMatchObject({
      Essential: true,
      ReadonlyRootFilesystem: true,
      LogConfiguration: { LogDriver: 'awslogs' },
      HealthCheck: { Command: expect.arrayContaining(['CMD', 'node']) },
      StopTimeout: 45,
      DependsOn: [{ ContainerName: 'cloudwatch-agent', Condition: 'START' }],
    });
    expect(edge.PortMappings).toEqual([
      { ContainerPort: SIP_PORT, Protocol: 'udp', Name: 'sip-udp' },
      { ContainerPort: SIP_PORT, Protocol: 'tcp', Name: 'sip-tcp' },
      { ContainerPort: CONTROL_PORT, Protocol: 'tcp', Name: 'control' },
      { ContainerPort: HEALTH_PORT, Protocol: 'tcp', Name: 'health' },
    ]);
    const env = Object.fromEntries(
      (edge.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(env).toMatchObject({
      [EDGE_ENV.systemDomain]: 'primary.example',
      [EDGE_ENV.host]: '0.0.0.0',
      [EDGE_ENV.sipPort]: String(SIP_PORT),
      [EDGE_ENV.controlPort]: String(CONTROL_PORT),
      [EDGE_ENV.healthPort]: String(HEALTH_PORT),
      [EDGE_ENV.apiAuth]: 'iam',
      [EDGE_ENV.controlTokenArn]: { Ref: id(stack.edgeControlToken) },
      [EDGE_ENV.metricsEndpoint]: 'udp://127.0.0.1:25888',
    });
    // The flags are on the command line: in NODE_OPTIONS, Node.js would refuse --heap-growing-percent.
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(edge.Command).toEqual(['node', ...EDGE_NODE_FLAGS, 'edge.mjs']);
    // The image's own command runs with the same flags (the container is also run without the task).
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(['node', ...EDGE_NODE_FLAGS, 'edge.mjs']);
    expect(JSON.stringify(env[EDGE_ENV.apiUrl])).toContain('execute-api');
    expect(env[EDGE_ENV.controlToken]).toBeUndefined();
    expect(JSON.stringify(containers[1])).toContain('metrics_collected');
  });

  it('runs Node.js with flags it accepts (an unknown or misspelt V8 flag stops it: "bad option")', () => {
    const run = spawnSync(process.execPath, [...EDGE_NODE_FLAGS, '-e', 'process.exit(0)'], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('builds the image from the repository root Dockerfile for linux/arm64, staged without node_modules', () => {
    const assets = JSON.parse(readFileSync(join(outdir, 'Mcptt-primary-example.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }>;
    };
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    const source = (images[0] as (typeof images)[number]).source;
    expect(source).toMatchObject({ dockerFile: 'Dockerfile', platform: 'linux/arm64' });
    const staged = join(outdir, source.directory);
    const entries = readdirSync(staged).sort();
    expect(entries).toEqual(
      expect.arrayContaining(['Dockerfile', 'edge', 'package-lock.json', 'package.json', 'sip']),
    );
    for (const excluded of ['node_modules', 'cdk.out', '.data', '.git', 'test', 'functions', 'local']) {
      expect(entries).not.toContain(excluded);
    }
  });

  it('runs the service in the public subnets with public IPs, rolling back failed deployments', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'ENABLED',
          SecurityGroups: [{ 'Fn::GetAtt': [id(stack.edge.securityGroup), 'GroupId'] }],
        },
      },
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
      }),
      ServiceRegistries: [Match.objectLike({ RegistryArn: Match.anyValue() })],
    });
  });

  it('registers each task as an A record edge-control.mcptt.internal', () => {
    template.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: SERVICE_NAMESPACE });
    template.hasResourceProperties('AWS::ServiceDiscovery::Service', {
      Name: 'edge-control',
      DnsConfig: Match.objectLike({ DnsRecords: [{ Type: 'A', TTL: 10 }] }),
    });
  });

  it('is behind an internet-facing NLB with its security group', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internet-facing',
      SecurityGroups: [{ 'Fn::GetAtt': [id(stack.edge.loadBalancerSecurityGroup), 'GroupId'] }],
    });
  });

  it('listens on TCP_UDP 5060 and, with a certificate, TLS 5061', () => {
    const listeners = ofType('AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    expect(listeners.map((l) => [l.Protocol, l.Port]).sort()).toEqual([
      ['TCP_UDP', SIP_PORT],
      ['TLS', SIP_TLS_PORT],
    ]);
    const tls = listeners.find((l) => l.Protocol === 'TLS');
    expect(tls).toMatchObject({
      Certificates: [{ CertificateArn: CERT }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    });
    const plainListeners = ofType('AWS::ElasticLoadBalancingV2::Listener', plain).map(
      ([, r]) => r.Properties,
    );
    expect(plainListeners.map((l) => [l.Protocol, l.Port])).toEqual([['TCP_UDP', SIP_PORT]]);
  });

  it('checks the tasks over HTTP on the health port, for the UDP+TCP and the TLS target groups', () => {
    const groups = ofType('AWS::ElasticLoadBalancingV2::TargetGroup').map(([, r]) => r.Properties);
    expect(groups.map((g) => g.Protocol).sort()).toEqual(['TCP', 'TCP_UDP']);
    for (const g of groups) {
      expect(g).toMatchObject({
        Port: SIP_PORT,
        TargetType: 'ip',
        HealthCheckEnabled: true,
        HealthCheckProtocol: 'HTTP',
        HealthCheckPort: String(HEALTH_PORT),
        HealthCheckPath: '/health',
      });
    }
    const service = ofType('AWS::ECS::Service')[0]?.[1].Properties;
    expect((service?.LoadBalancers as unknown[] | undefined)?.length).toBe(2);
  });

  it('admits SIP only from the configured range, at the load balancer', () => {
    const lb = resources[id(stack.edge.loadBalancerSecurityGroup)]?.Properties;
    expect(lb?.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '198.51.100.0/24', IpProtocol: 'udp', FromPort: 5060, ToPort: 5060 }),
      expect.objectContaining({ CidrIp: '198.51.100.0/24', IpProtocol: 'tcp', FromPort: 5060, ToPort: 5060 }),
      expect.objectContaining({ CidrIp: '198.51.100.0/24', IpProtocol: 'tcp', FromPort: 5061, ToPort: 5061 }),
    ]);
  });

  it('admits nothing from the internet at the tasks: SIP and health from the NLB, control API from the functions', () => {
    const taskSg = id(stack.edge.securityGroup);
    const rules = ofType('AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(`"${taskSg}"`));
    const inline = (resources[taskSg]?.Properties.SecurityGroupIngress as unknown[] | undefined) ?? [];
    expect(inline).toEqual([]);
    const source = (p: Record<string, unknown>) =>
      (p.SourceSecurityGroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const summary = rules.map((p) => `${p.IpProtocol}/${p.FromPort} from ${source(p)}`).sort();
    const lbSg = id(stack.edge.loadBalancerSecurityGroup);
    const clients = id(stack.network.edgeClients);
    expect(summary).toEqual(
      [
        `tcp/${CONTROL_PORT} from ${clients}`,
        `tcp/${HEALTH_PORT} from ${lbSg}`,
        `tcp/${SIP_PORT} from ${lbSg}`,
        `udp/${SIP_PORT} from ${lbSg}`,
      ].sort(),
    );
  });

  it('lets the functions in the VPC out on HTTPS (endpoints) and to the control port only', () => {
    const clients = resources[id(stack.network.edgeClients)]?.Properties;
    const inline = ((clients?.SecurityGroupEgress as Record<string, unknown>[] | undefined) ?? []).map(
      (e) => `${e.IpProtocol}/${e.FromPort} ${e.CidrIp ?? ''}`,
    );
    expect(inline).toEqual(['tcp/443 0.0.0.0/0']);
    const egress = ofType('AWS::EC2::SecurityGroupEgress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(`"${id(stack.network.edgeClients)}"`));
    expect(egress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: CONTROL_PORT, ToPort: CONTROL_PORT }),
    ]);
  });

  it('scales between minTasks and maxTasks on CPU and on EdgeActiveTransactions', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 4,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    const policies = ofType('AWS::ApplicationAutoScaling::ScalingPolicy').map(
      ([, r]) => r.Properties.TargetTrackingScalingPolicyConfiguration as Record<string, unknown>,
    );
    expect(policies).toHaveLength(2);
    expect(policies).toContainEqual(
      expect.objectContaining({
        TargetValue: 60,
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      }),
    );
    expect(policies).toContainEqual(
      expect.objectContaining({
        TargetValue: 400,
        CustomizedMetricSpecification: {
          Namespace: METRIC_NAMESPACE,
          MetricName: METRIC_NAMES.edgeActiveTransactions,
          Dimensions: [{ Name: 'System', Value: 'primary.example' }],
          Statistic: 'Average',
        },
      }),
    );
    plain.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 1,
      MaxCapacity: 1,
    });
  });

  it('outputs the SIP endpoint and the control URL', () => {
    template.hasOutput('SipEndpoint', { Value: { 'Fn::GetAtt': [id(stack.edge.loadBalancer), 'DNSName'] } });
    template.hasOutput('EdgeControlUrl', { Value: EDGE_CONTROL_URL });
  });

  it('rejects maxTasks below minTasks', () => {
    expect(
      () =>
        new McpttSystemStack(testApp(root, false), 'Mcptt-x-example', {
          system: 'x.example',
          entryRoot: root.dir,
          edge: { minTasks: 3, maxTasks: 2 },
        }),
    ).toThrow(/minTasks \(3\) <= maxTasks \(2\)/);
  });
});
