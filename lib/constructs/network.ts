import { CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../policy-validation.js';

export interface NetworkProps {
  /** Availability zones to spread over; the database's Multi-AZ standby needs at least 2. */
  readonly maxAzs: number;
  /** NAT gateways for the functions' calls to the payment provider (the only traffic leaving AWS). */
  readonly natGateways: number;
  readonly flowLogRetention: RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly flowLogRemovalPolicy?: RemovalPolicy;
}

/**
 * The VPC: public subnets only for the NAT gateways, private subnets with egress for the Lambda
 * functions, isolated subnets (no route out at all) for the database and its proxy. Calls to AWS
 * APIs from the functions stay inside the VPC through endpoints; flow logs record rejected and
 * accepted traffic.
 */
export class Network extends Construct {
  /** Subnet group names, for selections by name where a type is ambiguous. */
  static readonly APPLICATION_SUBNETS = 'Application';
  static readonly DATABASE_SUBNETS = 'Database';
  static readonly CIDR = '10.40.0.0/16';

  readonly vpc: Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.maxAzs < 2)
      throw new Error(`maxAzs must be at least 2 (RDS needs two AZs), got ${props.maxAzs}`);
    if (props.natGateways < 1 || props.natGateways > props.maxAzs) {
      throw new Error(`natGateways must be between 1 and maxAzs (${props.maxAzs}), got ${props.natGateways}`);
    }

    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(Network.CIDR),
      maxAzs: props.maxAzs,
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        // Only the NAT gateways live here, each with its Elastic IP: nothing launched in these
        // subnets gets a public address (Control Tower CT.EC2.PR.11).
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        // Lambda ENIs are shared per subnet and security group, but leave room for many functions.
        { name: Network.APPLICATION_SUBNETS, subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: Network.DATABASE_SUBNETS, subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        // Idempotency records: free, and keeps the hottest AWS calls off the NAT gateways.
        DynamoDb: {
          service: GatewayVpcEndpointAwsService.DYNAMODB,
          subnets: [{ subnetType: SubnetType.PRIVATE_WITH_EGRESS }],
        },
      },
    });

    this.setDefaultSecurityGroupRestrictionLogRetention(props);
    // CloudFormation's linter warns on literal zones; they are the stage's setting on purpose
    // (availabilityZonesOf in lib/config.ts), so a synth needs no lookup.
    Validations.of(this.vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'The availability zones are a stage setting (lib/config.ts), named so that synth needs no AWS credentials.',
    });

    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention,
      removalPolicy: props.flowLogRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: FlowLogTrafficType.ALL,
    });

    // Interface endpoints for every AWS API called from inside the VPC: SQS (sweeper), Step
    // Functions (checkout and sweeper), EventBridge (outbox relay), Secrets Manager (credential
    // rotation) and CloudWatch Logs.
    // One security group for all of them, open to the VPC's own range on 443 only.
    const endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(Peer.ipv4(Network.CIDR), Port.tcp(443), 'HTTPS from the VPC');
    const interfaceEndpoints = {
      Sqs: InterfaceVpcEndpointAwsService.SQS,
      StepFunctions: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
      EventBridge: InterfaceVpcEndpointAwsService.EVENTBRIDGE,
      SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      CloudWatchLogs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    for (const [endpointId, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [endpointSecurityGroup],
        subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      });
    }
  }

  /**
   * `restrictDefaultSecurityGroup` strips the default security group's rules with a custom resource
   * whose function CDK creates without a log group. Give it one with the stage's retention
   * (escape hatch: the provider is a stack-level singleton CDK owns).
   */
  private setDefaultSecurityGroupRestrictionLogRetention(props: NetworkProps): void {
    const provider = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler');
    if (!(handler instanceof CfnResource)) {
      throw new Error('the default security group restriction provider moved; update Network');
    }
    const logs = new LogGroup(this, 'DefaultSecurityGroupRestrictionLogs', {
      retention: props.flowLogRetention,
      removalPolicy: props.flowLogRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    handler.addPropertyOverride('LoggingConfig', { LogGroup: logs.logGroupName });
    acknowledgeControl(
      handler,
      'CT.LAMBDA.PR.3',
      "CDK's own handler of the custom resource that strips the default security group's rules: it runs " +
        'during deploys only, calls only the EC2 API and reaches nothing inside the VPC; it is a stack-level ' +
        'singleton CDK builds without VPC settings.',
    );
  }
}
