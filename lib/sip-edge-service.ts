/**
 * The SIP edge of one MCPTT system on AWS (decision 0011): the container image built from the
 * repository's Dockerfile (edge/main.ts), on ECS Fargate (ARM64) in the public subnets of the system's
 * VPC, behind an internet-facing Network Load Balancer:
 *
 * - listener `TCP_UDP` on {@link SIP_PORT} (SIP over UDP and TCP on one port: an NLB cannot have a
 *   UDP and a TCP listener on the same port), and `TLS` on {@link SIP_TLS_PORT} when a certificate is
 *   given (TLS ends at the load balancer; the hop to the task is TCP inside the VPC);
 * - health checks over HTTP on the edge's health port ({@link HEALTH_PORT}, `GET /health`), for both
 *   target groups (a UDP target group cannot be checked over UDP);
 * - the edge control API ({@link CONTROL_PORT}) reachable only from the security group of the functions
 *   that call it, under the Cloud Map name {@link EDGE_CONTROL_HOST} (an A record per task);
 * - autoscaling on CPU and on the edge's `EdgeActiveTransactions` gauge (target tracking);
 * - logs to CloudWatch Logs (awslogs), Container Insights on the cluster.
 *
 * The task role may call the system's `edge` routes (IAM-authorized, SigV4) and read the edge control
 * token; nothing else.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  type ContainerDefinition,
  ContainerDependencyCondition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  Protocol as EcsProtocol,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
  type ScalableTaskCount,
} from 'aws-cdk-lib/aws-ecs';
import {
  ListenerCertificate,
  type NetworkListener,
  NetworkLoadBalancer,
  NetworkTargetGroup,
  Protocol,
  SslPolicy,
  TargetType,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { DnsRecordType, PrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import {
  CONTROL_PORT,
  EDGE_CONTROL_HOST,
  EDGE_CONTROL_SERVICE,
  EDGE_CONTROL_URL,
  EDGE_ENV,
  EDGE_NODE_FLAGS,
  EMF_AGENT_ENDPOINT,
  HEALTH_PORT,
  SERVICE_NAMESPACE,
  SIP_PORT,
  SIP_TLS_PORT,
} from './edge-config.ts';

export { CONTROL_PORT, EDGE_CONTROL_HOST, EDGE_CONTROL_URL, HEALTH_PORT, SIP_PORT, SIP_TLS_PORT };

import { METRIC_DIMENSIONS, METRIC_NAMES, METRIC_NAMESPACE } from './metric-names.ts';
import type { McpttNetwork } from './network.ts';

/** The container's name in the task definition. */
export const EDGE_CONTAINER_NAME = 'edge';
/** The CloudWatch agent sidecar (EMF listener for the edge's metrics). */
export const METRICS_AGENT_CONTAINER_NAME = 'cloudwatch-agent';
/** The CloudWatch agent image (public ECR; the tasks pull it over their public IP). */
export const DEFAULT_METRICS_AGENT_IMAGE = 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest';

/** Properties of {@link SipEdgeService}. */
export interface SipEdgeServiceProps {
  /** The MCPTT system's domain. */
  readonly system: string;
  /** The system's VPC and the security group of the edge control API's clients. */
  readonly network: McpttNetwork;
  /** Base URL of the system's HTTP API. */
  readonly apiUrl: string;
  /** The bearer token of the edge control API. */
  readonly controlToken: ISecret;
  /** Lets the task role call the `edge` routes (McpttSystemStack.grantEdgeInvoke). */
  readonly grantEdgeInvoke: (grantee: IGrantable) => unknown;
  /**
   * The container image.
   * @default built from `<imageDirectory>/Dockerfile` for linux/arm64 (staged at synth, built at deploy)
   */
  readonly image?: ContainerImage;
  /** Docker build context of the default image. Required when `image` is not given. */
  readonly imageDirectory?: string;
  /**
   * Who may send SIP to the load balancer (UDP/TCP 5060, TLS 5061).
   * @default 0.0.0.0/0 (members' devices on any network)
   */
  readonly sipIngressCidr?: string;
  /** ACM certificate for the TLS listener on 5061; no TLS listener without it. */
  readonly tlsCertificateArn?: string;
  /** @default 1 */
  readonly minTasks?: number;
  /**
   * Upper bound of the autoscaling. The functions send each call's edge operations to the task that
   * holds the call (decision 0011, "Several tasks"), so it may be raised; the default stays 1 while
   * in-dialog SIP requests rely on the load balancer's flow affinity (decision 0011, open points).
   * @default 1
   */
  readonly maxTasks?: number;
  /** Target of the CPU scaling policy, percent. @default 60 */
  readonly cpuTargetPercent?: number;
  /** Target of the `EdgeActiveTransactions` scaling policy (average per task). @default 400 */
  readonly activeTransactionsTarget?: number;
  /** Fargate CPU units. @default 512 */
  readonly cpu?: number;
  /** Fargate memory, MiB. @default 1024 */
  readonly memoryMiB?: number;
  /**
   * Image of the CloudWatch agent sidecar that turns the edge's EMF lines into metrics.
   * @default {@link DEFAULT_METRICS_AGENT_IMAGE}
   */
  readonly metricsAgentImage?: string;
}

/** The SIP edge service of one MCPTT system. */
export class SipEdgeService extends Construct {
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly service: FargateService;
  readonly loadBalancer: NetworkLoadBalancer;
  /** UDP and TCP on 5060. */
  readonly sipListener: NetworkListener;
  readonly sipTargets: NetworkTargetGroup;
  /** TLS on 5061 (with a certificate only). */
  readonly tlsListener?: NetworkListener;
  readonly tlsTargets?: NetworkTargetGroup;
  /** The edge tasks. */
  readonly securityGroup: SecurityGroup;
  /** The load balancer. */
  readonly loadBalancerSecurityGroup: SecurityGroup;
  readonly namespace: PrivateDnsNamespace;
  readonly logGroup: LogGroup;
  /** Where the CloudWatch agent writes the edge's EMF lines (CloudWatch extracts the metrics). */
  readonly metricsLogGroup: LogGroup;
  /** The CloudWatch agent sidecar. */
  readonly metricsAgent: ContainerDefinition;
  readonly scaling: ScalableTaskCount;
  /** The gauge the service scales on. */
  readonly activeTransactions: Metric;
  /** Who may send SIP to the load balancer. */
  readonly sipIngressCidr: string;

  constructor(scope: Construct, id: string, props: SipEdgeServiceProps) {
    super(scope, id);
    const { vpc, edgeClients } = props.network;
    const minTasks = props.minTasks ?? 1;
    const maxTasks = props.maxTasks ?? 1;
    if (!Number.isInteger(minTasks) || minTasks < 1 || !Number.isInteger(maxTasks) || maxTasks < minTasks) {
      throw new Error(`SipEdgeService ${id}: need 1 <= minTasks (${minTasks}) <= maxTasks (${maxTasks})`);
    }
    const sipCidr = props.sipIngressCidr ?? '0.0.0.0/0';
    this.sipIngressCidr = sipCidr;

    // --- Security groups ---------------------------------------------------------------------
    this.loadBalancerSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: `SIP load balancer of ${props.system}`,
      allowAllOutbound: false,
    });
    this.securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: `SIP edge tasks of ${props.system}`,
      // SIP to members and partner edges anywhere, the system's HTTP API, ECR, CloudWatch Logs.
      allowAllOutbound: true,
    });
    const sipPeer = Peer.ipv4(sipCidr);
    this.loadBalancerSecurityGroup.addIngressRule(sipPeer, Port.udp(SIP_PORT), 'SIP over UDP');
    this.loadBalancerSecurityGroup.addIngressRule(sipPeer, Port.tcp(SIP_PORT), 'SIP over TCP');
    if (props.tlsCertificateArn) {
      this.loadBalancerSecurityGroup.addIngressRule(sipPeer, Port.tcp(SIP_TLS_PORT), 'SIP over TLS');
    }
    // The load balancer to the tasks: SIP and health checks. (Client IPs are preserved for UDP; a
    // rule on the load balancer's group still admits that traffic, and nothing else from outside.)
    for (const [port, what] of [
      [Port.udp(SIP_PORT), 'SIP over UDP from the load balancer'],
      [Port.tcp(SIP_PORT), 'SIP over TCP (and TLS-terminated) from the load balancer'],
      [Port.tcp(HEALTH_PORT), 'health checks from the load balancer'],
    ] as const) {
      this.securityGroup.addIngressRule(this.loadBalancerSecurityGroup, port, what);
      this.loadBalancerSecurityGroup.addEgressRule(this.securityGroup, port, what.replace('from', 'to'));
    }
    // The control API: only from the functions that call it.
    this.securityGroup.addIngressRule(
      edgeClients,
      Port.tcp(CONTROL_PORT),
      'edge control API from the functions',
    );
    edgeClients.addEgressRule(this.securityGroup, Port.tcp(CONTROL_PORT), 'edge control API');

    // --- Cluster, task, service ----------------------------------------------------------------
    this.cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });
    this.namespace = new PrivateDnsNamespace(this, 'Namespace', {
      name: SERVICE_NAMESPACE,
      vpc,
      description: `Private names of ${props.system}`,
    });
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.metricsLogGroup = new LogGroup(this, 'MetricsLogs', {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: props.memoryMiB ?? 1024,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    const image =
      props.image ??
      (() => {
        if (props.imageDirectory === undefined) {
          throw new Error(`SipEdgeService ${id}: give image or imageDirectory`);
        }
        return ContainerImage.fromAsset(props.imageDirectory, {
          file: 'Dockerfile',
          platform: Platform.LINUX_ARM64,
        });
      })();
    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [this.loadBalancerSecurityGroup],
      crossZoneEnabled: true,
    });
    this.container = this.taskDefinition.addContainer(EDGE_CONTAINER_NAME, {
      image,
      essential: true,
      readonlyRootFilesystem: true,
      logging: LogDrivers.awsLogs({ streamPrefix: 'edge', logGroup: this.logGroup }),
      // Configuration only; the one secret (the control token) is read from Secrets Manager by ARN.
      environment: {
        [EDGE_ENV.systemDomain]: props.system,
        [EDGE_ENV.host]: '0.0.0.0',
        [EDGE_ENV.sipPort]: String(SIP_PORT),
        [EDGE_ENV.controlPort]: String(CONTROL_PORT),
        [EDGE_ENV.healthPort]: String(HEALTH_PORT),
        [EDGE_ENV.apiUrl]: props.apiUrl,
        [EDGE_ENV.apiAuth]: 'iam',
        [EDGE_ENV.controlTokenArn]: props.controlToken.secretArn,
        [EDGE_ENV.advertisedHost]: this.loadBalancer.loadBalancerDnsName,
        [EDGE_ENV.metricsEndpoint]: EMF_AGENT_ENDPOINT,
        [EDGE_ENV.metricsLogGroup]: this.metricsLogGroup.logGroupName,
      },
      // The image's CMD, spelled out: the flags go on the command line, not in NODE_OPTIONS, which
      // Node.js limits to a few V8 flags (--heap-growing-percent is not one of them) and which the
      // health check's own `node` would also read.
      command: ['node', ...EDGE_NODE_FLAGS, 'edge.mjs'],
      portMappings: [
        { containerPort: SIP_PORT, protocol: EcsProtocol.UDP, name: 'sip-udp' },
        { containerPort: SIP_PORT, protocol: EcsProtocol.TCP, name: 'sip-tcp' },
        { containerPort: CONTROL_PORT, protocol: EcsProtocol.TCP, name: 'control' },
        { containerPort: HEALTH_PORT, protocol: EcsProtocol.TCP, name: 'health' },
      ],
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${HEALTH_PORT}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(20),
      },
      // edge/main.ts drains on SIGTERM (health 503, finishes transactions) before it exits.
      stopTimeout: Duration.seconds(45),
    });
    // The CloudWatch agent: receives the edge's EMF lines on UDP 25888 and writes them to the metrics
    // log group with the EMF header, so CloudWatch extracts the metrics (stdout lines of a container
    // are not extracted).
    this.metricsAgent = this.taskDefinition.addContainer(METRICS_AGENT_CONTAINER_NAME, {
      image: ContainerImage.fromRegistry(props.metricsAgentImage ?? DEFAULT_METRICS_AGENT_IMAGE),
      essential: false,
      memoryReservationMiB: 64,
      logging: LogDrivers.awsLogs({ streamPrefix: 'cloudwatch-agent', logGroup: this.logGroup }),
      environment: {
        CW_CONFIG_CONTENT: JSON.stringify({ logs: { metrics_collected: { emf: {} } } }),
      },
    });
    this.container.addContainerDependencies({
      container: this.metricsAgent,
      condition: ContainerDependencyCondition.START,
    });

    // The task role: the `edge` routes, the control token, the metrics log group. Nothing else.
    const taskRole = this.taskDefinition.taskRole;
    props.grantEdgeInvoke(taskRole);
    taskRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.controlToken.secretArn],
      }),
    );
    taskRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [this.metricsLogGroup.logGroupArn],
      }),
    );

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: minTasks,
      assignPublicIp: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
      cloudMapOptions: {
        cloudMapNamespace: this.namespace,
        name: EDGE_CONTROL_SERVICE,
        dnsRecordType: DnsRecordType.A,
        dnsTtl: Duration.seconds(10),
      },
    });

    // --- Load balancer -------------------------------------------------------------------------
    const healthCheck = {
      enabled: true,
      protocol: Protocol.HTTP,
      port: String(HEALTH_PORT),
      path: '/health',
      interval: Duration.seconds(10),
      timeout: Duration.seconds(5),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 2,
    };
    this.sipTargets = new NetworkTargetGroup(this, 'SipTargets', {
      vpc,
      port: SIP_PORT,
      protocol: Protocol.TCP_UDP,
      targetType: TargetType.IP,
      healthCheck,
      deregistrationDelay: Duration.seconds(30),
      targets: [
        this.service.loadBalancerTarget({
          containerName: EDGE_CONTAINER_NAME,
          containerPort: SIP_PORT,
          protocol: EcsProtocol.UDP,
        }),
      ],
    });
    this.sipListener = this.loadBalancer.addListener('Sip', {
      port: SIP_PORT,
      protocol: Protocol.TCP_UDP,
      defaultTargetGroups: [this.sipTargets],
    });
    if (props.tlsCertificateArn) {
      this.tlsTargets = new NetworkTargetGroup(this, 'TlsTargets', {
        vpc,
        port: SIP_PORT,
        protocol: Protocol.TCP,
        targetType: TargetType.IP,
        healthCheck,
        deregistrationDelay: Duration.seconds(30),
        targets: [
          this.service.loadBalancerTarget({
            containerName: EDGE_CONTAINER_NAME,
            containerPort: SIP_PORT,
            protocol: EcsProtocol.TCP,
          }),
        ],
      });
      this.tlsListener = this.loadBalancer.addListener('SipTls', {
        port: SIP_TLS_PORT,
        protocol: Protocol.TLS,
        certificates: [ListenerCertificate.fromArn(props.tlsCertificateArn)],
        sslPolicy: SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.tlsTargets],
      });
    }

    // --- Autoscaling ---------------------------------------------------------------------------
    this.activeTransactions = new Metric({
      namespace: METRIC_NAMESPACE,
      metricName: METRIC_NAMES.edgeActiveTransactions,
      dimensionsMap: { [METRIC_DIMENSIONS.system]: props.system },
      statistic: 'Average',
      period: Duration.minutes(1),
    });
    this.scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: maxTasks });
    this.scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: props.cpuTargetPercent ?? 60,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    this.scaling.scaleToTrackCustomMetric('ActiveTransactions', {
      metric: this.activeTransactions,
      targetValue: props.activeTransactionsTarget ?? 400,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    const stack = Stack.of(this);
    new CfnOutput(stack, 'SipEndpoint', {
      value: this.loadBalancer.loadBalancerDnsName,
      description: `SIP (UDP and TCP ${SIP_PORT}${props.tlsCertificateArn ? `, TLS ${SIP_TLS_PORT}` : ''}) of ${props.system}`,
    });
    new CfnOutput(stack, 'EdgeControlUrl', {
      value: EDGE_CONTROL_URL,
      description: 'The edge control API as the functions in the VPC reach it',
    });
  }
}
