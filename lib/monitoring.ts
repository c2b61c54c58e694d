/**
 * Alarms and the dashboard of one MCPTT system (decision 0012). The custom metrics are the ones of
 * lib/metric-names.ts (namespace `MCPTT`, dimension `System`), emitted as EMF by the functions and the
 * SIP edge; the others are AWS's own (SQS, Step Functions, API Gateway, Network Load Balancer, ECS).
 *
 * | alarm | metric | fires when |
 * |---|---|---|
 * | `InterrogationDlq` | SQS ApproximateNumberOfMessagesVisible of the DLQ, max per minute | ≥ 1 |
 * | `WorkflowFailed` | Step Functions ExecutionsFailed, sum per minute | ≥ 1 |
 * | `WorkflowTimedOut` | Step Functions ExecutionsTimedOut, sum per minute | ≥ 1 |
 * | `CallSetupLatencyP95` | MCPTT CallSetupLatency p95 per minute | > 300 ms in 3 of 5 minutes |
 * | `Api5xx` | API Gateway 5xx, sum per 5 minutes | ≥ 5 |
 * | `EdgeUnhealthyHosts` | NLB UnHealthyHostCount, max per minute, each target group | ≥ 1 in 2 of 2 minutes |
 * | `EdgeNoHealthyHost` | NLB HealthyHostCount, min per minute, each target group | < 1 in 2 of 2 minutes (missing data: breaching) |
 *
 * Every alarm notifies the alarm topic (KMS-encrypted, TLS-only), when there is one.
 */
import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ACCESS_TIME_BUDGET_MS,
  CALL_FAILURE_REASONS,
  MEMBER_RESPONSE_CLASSES,
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  METRIC_NAMESPACE,
  type MetricName,
} from './metric-names.ts';
import type { SipEdgeService } from './sip-edge-service.ts';

/** Thresholds of the alarms (see the module table). */
export const ALARM_THRESHOLDS = {
  dlqMessages: 1,
  workflowFailed: 1,
  workflowTimedOut: 1,
  callSetupLatencyP95Ms: ACCESS_TIME_BUDGET_MS,
  callSetupLatencyEvaluationPeriods: 5,
  callSetupLatencyDatapoints: 3,
  api5xxPer5Minutes: 5,
  unhealthyHosts: 1,
  minHealthyHosts: 1,
} as const;

/** Properties of {@link McpttMonitoring}. */
export interface McpttMonitoringProps {
  /** The MCPTT system's domain (the `System` dimension). */
  readonly system: string;
  readonly api: HttpApi;
  readonly interrogationDlq: IQueue;
  readonly stateMachine: IStateMachine;
  readonly edge: SipEdgeService;
  /**
   * Create the alarm topic (SNS, KMS-encrypted) and make every alarm notify it.
   * @default true
   */
  readonly alarmTopic?: boolean;
  /** E-mail addresses subscribed to the alarm topic. */
  readonly alarmEmails?: readonly string[];
}

/** The alarms and the dashboard of one MCPTT system. */
export class McpttMonitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Readonly<Record<string, Alarm>>;
  readonly topic?: Topic;
  readonly topicKey?: Key;

  constructor(scope: Construct, id: string, props: McpttMonitoringProps) {
    super(scope, id);
    const system = props.system;
    /** A custom metric of this system; `extra` adds the one extra dimension where it applies. */
    const custom = (
      name: MetricName,
      statistic: string,
      extra?: Record<string, string>,
      period = Duration.minutes(1),
    ): Metric =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: name,
        dimensionsMap: { [METRIC_DIMENSIONS.system]: system, ...extra },
        statistic,
        period,
      });

    // --- Alarms --------------------------------------------------------------------------------
    const alarms: Record<string, Alarm> = {};
    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      comparisonOperator: ComparisonOperator,
      opts: { evaluationPeriods?: number; datapointsToAlarm?: number; missing?: TreatMissingData } = {},
    ): Alarm => {
      const a = new Alarm(this, name, {
        alarmDescription: `${system}: ${description}`,
        metric,
        threshold,
        comparisonOperator,
        evaluationPeriods: opts.evaluationPeriods ?? 1,
        datapointsToAlarm: opts.datapointsToAlarm ?? opts.evaluationPeriods ?? 1,
        treatMissingData: opts.missing ?? TreatMissingData.NOT_BREACHING,
      });
      alarms[name] = a;
      return a;
    };
    const GTE = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;

    alarm(
      'InterrogationDlq',
      'partner interrogations reached the dead-letter queue (the interrogator failed 3 times)',
      props.interrogationDlq.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
      ALARM_THRESHOLDS.dlqMessages,
      GTE,
    );
    alarm(
      'WorkflowFailed',
      'call setup workflow executions failed',
      props.stateMachine.metricFailed({ statistic: Stats.SUM, period: Duration.minutes(1) }),
      ALARM_THRESHOLDS.workflowFailed,
      GTE,
    );
    alarm(
      'WorkflowTimedOut',
      'call setup workflow executions timed out',
      props.stateMachine.metricTimedOut({ statistic: Stats.SUM, period: Duration.minutes(1) }),
      ALARM_THRESHOLDS.workflowTimedOut,
      GTE,
    );
    alarm(
      'CallSetupLatencyP95',
      `call setup latency p95 above the 3GPP access time budget (${ACCESS_TIME_BUDGET_MS} ms, TS 22.179 KPI 1) in 3 of 5 minutes`,
      custom(METRIC_NAMES.callSetupLatency, Stats.p(95)),
      ALARM_THRESHOLDS.callSetupLatencyP95Ms,
      ComparisonOperator.GREATER_THAN_THRESHOLD,
      {
        evaluationPeriods: ALARM_THRESHOLDS.callSetupLatencyEvaluationPeriods,
        datapointsToAlarm: ALARM_THRESHOLDS.callSetupLatencyDatapoints,
      },
    );
    alarm(
      'Api5xx',
      'the HTTP API answered 5xx at least 5 times in 5 minutes',
      props.api.metricServerError({ statistic: Stats.SUM, period: Duration.minutes(5) }),
      ALARM_THRESHOLDS.api5xxPer5Minutes,
      GTE,
    );
    const targetGroups = [
      ['Sip', props.edge.sipTargets] as const,
      ...(props.edge.tlsTargets ? [['Tls', props.edge.tlsTargets] as const] : []),
    ];
    for (const [label, tg] of targetGroups) {
      const suffix = label === 'Sip' ? '' : label;
      alarm(
        `EdgeUnhealthyHosts${suffix}`,
        `SIP edge tasks failing the load balancer's health check (${label} target group)`,
        tg.metrics.unHealthyHostCount({ statistic: Stats.MAXIMUM, period: Duration.minutes(1) }),
        ALARM_THRESHOLDS.unhealthyHosts,
        GTE,
        { evaluationPeriods: 2 },
      );
      alarm(
        `EdgeNoHealthyHost${suffix}`,
        `no healthy SIP edge task behind the load balancer (${label} target group): SIP is down`,
        tg.metrics.healthyHostCount({ statistic: Stats.MINIMUM, period: Duration.minutes(1) }),
        ALARM_THRESHOLDS.minHealthyHosts,
        ComparisonOperator.LESS_THAN_THRESHOLD,
        { evaluationPeriods: 2, missing: TreatMissingData.BREACHING },
      );
    }
    this.alarms = alarms;

    if (props.alarmTopic ?? true) {
      // CloudWatch alarms can publish to an encrypted topic only with a customer managed key that
      // lets CloudWatch use it (not with the AWS managed aws/sns key).
      this.topicKey = new Key(this, 'AlarmTopicKey', {
        description: `Encrypts the alarm topic of ${system}`,
        enableKeyRotation: true,
      });
      this.topicKey.grant(
        new ServicePrincipal('cloudwatch.amazonaws.com'),
        'kms:Decrypt',
        'kms:GenerateDataKey*',
      );
      this.topic = new Topic(this, 'AlarmTopic', {
        displayName: `MCPTT ${system} alarms`,
        masterKey: this.topicKey,
        enforceSSL: true,
      });
      for (const email of props.alarmEmails ?? []) this.topic.addSubscription(new EmailSubscription(email));
      const action = new SnsAction(this.topic);
      for (const a of Object.values(alarms)) {
        a.addAlarmAction(action);
        a.addOkAction(action);
      }
    }

    // --- Dashboard -----------------------------------------------------------------------------
    const sum = (name: MetricName, label: string, extra?: Record<string, string>) =>
      custom(name, Stats.SUM, extra).with({ label });
    const failedByReason = CALL_FAILURE_REASONS.map((reason) =>
      sum(METRIC_NAMES.callsFailed, reason, { [METRIC_DIMENSIONS.reason]: reason }),
    );
    const failedTotal = new MathExpression({
      expression: failedByReason.map((_, i) => `FILL(r${i}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(failedByReason.map((m, i) => [`r${i}`, m])),
      label: 'failed',
      period: Duration.minutes(1),
    });
    const percentiles = (name: MetricName) =>
      (['p50', 'p95', 'p99'] as const).map((p) => custom(name, p).with({ label: p }));
    const edge = props.edge;
    const ecsMetric = (metricName: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/ECS',
        metricName,
        dimensionsMap: {
          ClusterName: edge.cluster.clusterName,
          ServiceName: edge.service.serviceName,
        },
        statistic,
        period: Duration.minutes(1),
      });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `mcptt-${system.replaceAll('.', '-')}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# MCPTT ${system}\nCall setup, partner interrogation, member responses, SIP edge and their alarms. Metric namespace \`${METRIC_NAMESPACE}\`, dimension \`System=${system}\`.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(alarms), width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Calls started / succeeded / failed (per minute)',
        left: [
          sum(METRIC_NAMES.callsStarted, 'started'),
          sum(METRIC_NAMES.callsSucceeded, 'succeeded'),
          failedTotal,
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Calls failed by reason',
        left: failedByReason,
        stacked: true,
        width: 6,
      }),
      new SingleValueWidget({
        title: 'Calls (last 3 h)',
        metrics: [
          custom(METRIC_NAMES.callsStarted, Stats.SUM, undefined, Duration.hours(3)).with({
            label: 'started',
          }),
          custom(METRIC_NAMES.callsSucceeded, Stats.SUM, undefined, Duration.hours(3)).with({
            label: 'succeeded',
          }),
        ],
        width: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Call setup latency (ms): p50 / p95 / p99',
        left: percentiles(METRIC_NAMES.callSetupLatency),
        leftAnnotations: [{ value: ACCESS_TIME_BUDGET_MS, label: 'access time budget (300 ms)' }],
        width: 12,
      }),
      new GraphWidget({
        title: 'Partner interrogation latency (ms)',
        left: percentiles(METRIC_NAMES.partnerInterrogationLatency),
        width: 6,
      }),
      new GraphWidget({
        title: 'Partner interrogation failures',
        left: [sum(METRIC_NAMES.partnerInterrogationFailures, 'failures')],
        width: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Member responses by class',
        left: MEMBER_RESPONSE_CLASSES.map((c) =>
          sum(METRIC_NAMES.memberResponses, c, { [METRIC_DIMENSIONS.class]: c }),
        ),
        stacked: true,
        width: 12,
      }),
      new GraphWidget({
        title: 'SIP transactions and retransmissions',
        left: [
          sum(METRIC_NAMES.sipTransactions, 'transactions'),
          sum(METRIC_NAMES.sipRetransmissions, 'retransmissions'),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Edge: active transactions per task, CPU',
        left: [edge.activeTransactions.with({ label: 'active transactions (avg per task)' })],
        right: [ecsMetric('CPUUtilization', Stats.AVERAGE).with({ label: 'CPU %' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Edge: healthy / unhealthy tasks',
        left: targetGroups.flatMap(([label, tg]) => [
          tg.metrics.healthyHostCount({ statistic: Stats.MINIMUM }).with({ label: `${label} healthy` }),
          tg.metrics.unHealthyHostCount({ statistic: Stats.MAXIMUM }).with({ label: `${label} unhealthy` }),
        ]),
        width: 8,
      }),
      new GraphWidget({
        title: 'Interrogation DLQ depth',
        left: [
          props.interrogationDlq
            .metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM })
            .with({ label: 'messages in the DLQ' }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Call setup workflow executions',
        left: [
          props.stateMachine.metricStarted({ statistic: Stats.SUM }).with({ label: 'started' }),
          props.stateMachine.metricFailed({ statistic: Stats.SUM }).with({ label: 'failed' }),
          props.stateMachine.metricTimedOut({ statistic: Stats.SUM }).with({ label: 'timed out' }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'HTTP API: 4xx / 5xx, latency p95',
        left: [
          props.api.metricClientError({ statistic: Stats.SUM }).with({ label: '4xx' }),
          props.api.metricServerError({ statistic: Stats.SUM }).with({ label: '5xx' }),
        ],
        right: [props.api.metricLatency({ statistic: Stats.p(95) }).with({ label: 'latency p95 (ms)' })],
        width: 12,
      }),
    );
  }
}
