/**
 * The network of one MCPTT system (decision 0011): a VPC over two Availability Zones without NAT
 * gateways.
 *
 * - **Public subnets** hold the internet-facing Network Load Balancer and the SIP edge tasks. The
 *   tasks get public IP addresses because SIP needs the internet both ways (members' devices, the
 *   partner systems' edges) and the system's HTTP API is a public endpoint (`execute-api` VPC endpoints
 *   serve private REST APIs only, not HTTP APIs); their security group admits nothing from the internet
 *   directly (only from the load balancer's security group).
 * - **Isolated subnets** hold the functions that call the edge control API ({@link EDGE_CONTROL_CLIENTS}
 *   of lib/function-access.ts). They reach AWS only through VPC endpoints: DynamoDB (gateway endpoint,
 *   free), Secrets Manager and Step Functions (interface endpoints, private DNS), and the edge through
 *   its control API.
 * - VPC flow logs (rejected and accepted traffic) go to CloudWatch Logs.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Properties of {@link McpttNetwork}. */
export interface McpttNetworkProps {
  /**
   * The VPC's IPv4 range.
   * @default 10.60.0.0/16
   */
  readonly cidr?: string;
}

/** The AWS services the in-VPC functions and the edge reach through interface endpoints. */
export const INTERFACE_ENDPOINT_SERVICES = {
  SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  StepFunctions: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
} as const;

/** The VPC of one MCPTT system, its endpoints, and the security group of the edge control API's clients. */
export class McpttNetwork extends Construct {
  readonly vpc: Vpc;
  /**
   * The security group of the functions that call the edge control API: the only source the edge
   * accepts on its control port. Egress: HTTPS (only VPC endpoints are routable from the isolated
   * subnets) and, once the edge exists, the control port to the edge.
   */
  readonly edgeClients: SecurityGroup;
  /** The VPC flow logs. */
  readonly flowLogs: LogGroup;
  /** The interface endpoints, by service. */
  readonly interfaceEndpoints = {} as Record<keyof typeof INTERFACE_ENDPOINT_SERVICES, InterfaceVpcEndpoint>;
  /** The VPC's IPv4 range. */
  readonly cidr: string;

  constructor(scope: Construct, id: string, props: McpttNetworkProps = {}) {
    super(scope, id);
    const cidr = props.cidr ?? '10.60.0.0/16';
    this.cidr = cidr;
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(cidr),
      maxAzs: 2,
      natGateways: 0,
      // No custom resource (a Lambda function) to strip the default security group: nothing uses it.
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Functions', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });

    this.flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(this.flowLogs),
      trafficType: FlowLogTrafficType.ALL,
    });

    // Interface endpoints with private DNS: every client in the VPC (functions and edge tasks)
    // reaches the service through them. Open to the VPC's range (a literal, checkable) on 443 only.
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINT_SERVICES)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        subnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        open: false,
      });
      endpoint.connections.allowDefaultPortFrom(Peer.ipv4(cidr), `HTTPS from the VPC (${cidr})`);
      this.interfaceEndpoints[name as keyof typeof INTERFACE_ENDPOINT_SERVICES] = endpoint;
    }

    this.edgeClients = new SecurityGroup(this, 'EdgeClients', {
      vpc: this.vpc,
      description: 'Functions that call the SIP edge control API',
      allowAllOutbound: false,
    });
    // HTTPS to anywhere, which from the isolated subnets (no internet route) means: the interface
    // endpoints in the VPC and DynamoDB through the gateway endpoint's route (its prefix list has no
    // CloudFormation attribute to name here).
    this.edgeClients.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'AWS APIs via the VPC endpoints only');
  }

  /** Subnets of the functions that run in the VPC. */
  get functionSubnets() {
    return { subnetType: SubnetType.PRIVATE_ISOLATED } as const;
  }
}
