/**
 * Alarms (thresholds, periods, actions) and the dashboard of a system stack, and the metric names
 * module they share with the functions and the edge.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpttSystemStack } from '../../lib/mcptt-system-stack.ts';
import {
  ACCESS_TIME_BUDGET_MS,
  CALL_FAILURE_REASONS,
  MEMBER_RESPONSE_CLASSES,
  METRIC_DEFINITIONS,
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  METRIC_NAMESPACE,
  memberResponseClass,
} from '../../lib/metric-names.ts';
import { ALARM_THRESHOLDS } from '../../lib/monitoring.ts';
import { createEntryRoot, type EntryRoot, testApp } from './fixture.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

let root: EntryRoot;
let stack: McpttSystemStack;
let template: Template;
let resources: Record<string, Resource>;
const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const alarm = (name: string): Record<string, unknown> => {
  const a = stack.monitoring.alarms[name];
  if (!a) throw new Error(`no alarm ${name}`);
  const r = resources[id(a)];
  if (!r) throw new Error(`alarm ${name} not in the template`);
  return r.Properties;
};

beforeAll(() => {
  root = createEntryRoot();
  stack = new McpttSystemStack(testApp(root, false), 'Mcptt-primary-example', {
    system: 'primary.example',
    entryRoot: root.dir,
    edge: { tlsCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
    alarms: { emails: ['noc@example.org'] },
  });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
}, 120_000);
afterAll(() => root?.dispose());

describe('Alarms', () => {
  it('has the nine alarms of a system with a TLS listener', () => {
    expect(Object.keys(stack.monitoring.alarms).sort()).toEqual(
      [
        'Api5xx',
        'CallSetupLatencyP95',
        'EdgeNoHealthyHost',
        'EdgeNoHealthyHostTls',
        'EdgeUnhealthyHosts',
        'EdgeUnhealthyHostsTls',
        'InterrogationDlq',
        'WorkflowFailed',
        'WorkflowTimedOut',
      ].sort(),
    );
    template.resourceCountIs('AWS::CloudWatch::Alarm', 9);
  });

  it('InterrogationDlq: any visible message in the DLQ', () => {
    expect(alarm('InterrogationDlq')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(stack.interrogationDlq), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it.each([
    ['WorkflowFailed', 'ExecutionsFailed'],
    ['WorkflowTimedOut', 'ExecutionsTimedOut'],
  ])('%s: %s of the call setup state machine ≥ 1', (name, metric) => {
    expect(alarm(name)).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: metric,
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: id(stack.callSetup.stateMachine) } }],
      Statistic: 'Sum',
      Period: 60,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
  });

  it('CallSetupLatencyP95: p95 above the 300 ms access time budget in 3 of 5 minutes', () => {
    expect(ACCESS_TIME_BUDGET_MS).toBe(300);
    expect(alarm('CallSetupLatencyP95')).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC_NAMES.callSetupLatency,
      Dimensions: [{ Name: METRIC_DIMENSIONS.system, Value: 'primary.example' }],
      ExtendedStatistic: 'p95',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 300,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  it('Api5xx: at least 5 server errors of the HTTP API in 5 minutes', () => {
    expect(alarm('Api5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: id(stack.api) } }],
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: ALARM_THRESHOLDS.api5xxPer5Minutes,
    });
    expect(ALARM_THRESHOLDS.api5xxPer5Minutes).toBe(5);
  });

  it.each([
    ['', 'sipTargets'],
    ['Tls', 'tlsTargets'],
  ] as const)(
    'edge health%s: unhealthy hosts ≥ 1, healthy hosts < 1 (missing data breaches)',
    (suffix, tg) => {
      const group = stack.edge[tg];
      if (!group) throw new Error(`no ${tg}`);
      const dims = [
        { Name: 'LoadBalancer', Value: expect.anything() },
        { Name: 'TargetGroup', Value: expect.anything() },
      ];
      expect(alarm(`EdgeUnhealthyHosts${suffix}`)).toMatchObject({
        Namespace: 'AWS/NetworkELB',
        MetricName: 'UnHealthyHostCount',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
      });
      expect(alarm(`EdgeNoHealthyHost${suffix}`)).toMatchObject({
        Namespace: 'AWS/NetworkELB',
        MetricName: 'HealthyHostCount',
        Statistic: 'Minimum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
        TreatMissingData: 'breaching',
      });
      for (const name of [`EdgeUnhealthyHosts${suffix}`, `EdgeNoHealthyHost${suffix}`]) {
        const d = alarm(name).Dimensions as { Name: string; Value: unknown }[];
        expect(d).toEqual(dims);
        expect(JSON.stringify(d)).toContain(id(group));
      }
    },
  );

  it('notifies the encrypted, TLS-only alarm topic on alarm and on recovery', () => {
    const topic = stack.monitoring.topic;
    if (!topic) throw new Error('no topic');
    for (const name of Object.keys(stack.monitoring.alarms)) {
      expect(alarm(name).AlarmActions, name).toEqual([{ Ref: id(topic) }]);
      expect(alarm(name).OKActions, name).toEqual([{ Ref: id(topic) }]);
    }
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [id(stack.monitoring.topicKey as never), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const policy = Object.values(resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy');
    expect(JSON.stringify(policy?.Properties)).toContain('"aws:SecureTransport":"false"');
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'noc@example.org',
    });
    const key = Object.values(resources).find((r) => r.Type === 'AWS::KMS::Key');
    expect(JSON.stringify(key?.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
  });
});

describe('Dashboard', () => {
  let body: string;
  beforeAll(() => {
    const dash = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    body = JSON.stringify(dash?.Properties.DashboardBody);
    expect(dash?.Properties.DashboardName).toBe('mcptt-primary-example');
  });

  it('shows every custom metric of the system', () => {
    for (const name of Object.values(METRIC_NAMES)) expect(body, name).toContain(`\\"${name}\\"`);
    expect(body).toContain(`\\"${METRIC_NAMESPACE}\\"`);
    expect(body).toContain('primary.example');
  });

  it('shows call setup and partner interrogation latency at p50, p95 and p99, with the budget line', () => {
    for (const p of ['p50', 'p95', 'p99']) expect(body).toContain(`\\"stat\\":\\"${p}\\"`);
    expect(body).toContain('access time budget (300 ms)');
  });

  it('shows member responses by class and failed calls by reason', () => {
    for (const c of MEMBER_RESPONSE_CLASSES) expect(body).toContain(`\\"Class\\",\\"${c}\\"`);
    for (const r of CALL_FAILURE_REASONS) expect(body).toContain(`\\"Reason\\",\\"${r}\\"`);
  });

  it('shows the DLQ depth, the workflow, the API, the edge hosts and the alarms', () => {
    for (const m of [
      'ApproximateNumberOfMessagesVisible',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
      '5xx',
      'HealthyHostCount',
      'UnHealthyHostCount',
      'CPUUtilization',
    ]) {
      expect(body, m).toContain(`\\"${m}\\"`);
    }
    expect(body).toContain('\\"alarms\\"');
  });
});

describe('lib/metric-names.ts', () => {
  it('names ten metrics once each, with a unit, and at most one extra dimension', () => {
    const names = Object.values(METRIC_NAMES);
    expect(names).toHaveLength(10);
    expect(new Set(names).size).toBe(10);
    expect(Object.keys(METRIC_DEFINITIONS).sort()).toEqual([...names].sort());
    expect(METRIC_DEFINITIONS.CallSetupLatency.unit).toBe('Milliseconds');
    expect(METRIC_DEFINITIONS.MemberResponses.extraDimension).toBe('Class');
    expect(METRIC_DEFINITIONS.CallsFailed.extraDimension).toBe('Reason');
    const extra = Object.values(METRIC_DEFINITIONS).filter((d) => d.extraDimension !== undefined);
    expect(extra).toHaveLength(2);
  });

  it('classes final SIP statuses', () => {
    expect([200, 302, 404, 486, 503, 603].map(memberResponseClass)).toEqual([
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      '6xx',
    ]);
    expect(() => memberResponseClass(180)).toThrow(RangeError);
    expect(() => memberResponseClass(700)).toThrow(RangeError);
  });
});
