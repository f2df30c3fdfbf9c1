import { Duration, RemovalPolicies, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type InstanceType, type IVpc, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  CaCertificate,
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  type DatabaseProxy,
  DatabaseSecret,
  ParameterGroup,
  PostgresEngineVersion,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import { HostedRotation, type ISecret, type RotationSchedule } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { TimeAndCapacityBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { acknowledgeControl } from '../policy-validation.js';
import type { CheckoutFunction } from './checkout-function.js';
import { setEnvironment } from './function-environment.js';

/** The port clients use: the proxy listens on the engine's default port. */
export const PROXY_PORT = 5432;

export interface CheckoutDatabaseProps {
  readonly vpc: IVpc;
  /**
   * Names the instance (`DBInstanceIdentifier`), its exported log group and its rotation function,
   * so two stages can share an account. Lower case, starts with a letter.
   */
  readonly instanceIdentifier: string;
  readonly instanceType: InstanceType;
  readonly multiAz: boolean;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly backupRetention: Duration;
  readonly deletionProtection: boolean;
  /** Of the instance and of what only it uses: its secrets, subnet group and log groups. */
  readonly removalPolicy: RemovalPolicy;
  readonly secretRotation: Duration;
  readonly logRetention: RetentionDays;
  /**
   * The database's side of the budget (docs/adr/0020): the instance's `max_connections`, the
   * proxy's borrow and idle timeouts and its share of the connections, the clients' connect timeout.
   */
  readonly budget: TimeAndCapacityBudget['database'];
  /** Performance Insights and enhanced monitoring. @default false */
  readonly detailedMonitoring?: boolean;
  /** @default 'checkout' */
  readonly databaseName?: string;
  /**
   * The master user: owns the schema and runs the migrations, nothing else connects as it.
   * @default 'checkout'
   */
  readonly username?: string;
}

/**
 * PostgreSQL 16 on RDS in the isolated subnets, reached only through RDS Proxy: TLS required and
 * IAM authentication on the proxy, TLS forced on the instance, storage encrypted, the generated
 * credentials in Secrets Manager with scheduled rotation.
 */
const ISOLATED = { subnetType: SubnetType.PRIVATE_ISOLATED };

/** The log types the instance exports to CloudWatch Logs, and the construct id of each one's group. */
const EXPORTED_LOGS = { postgresql: 'PostgresLogs', upgrade: 'UpgradeLogs' } as const;

export class CheckoutDatabase extends Construct {
  readonly instance: DatabaseInstance;
  readonly proxy: DatabaseProxy;
  /** The owner's (master) credentials. */
  readonly secret: ISecret;
  /**
   * The application role's credentials (`APPLICATION_ROLE`, created by migration 0008): RDS Proxy
   * logs in with them for the functions, which authenticate to the proxy with IAM.
   */
  readonly applicationSecret: ISecret;
  /** Its rotation; it must not start before the migrations created the role and set its password. */
  readonly applicationSecretRotation: RotationSchedule;
  readonly databaseName: string;
  /** The owner's user name. */
  readonly username: string;
  /**
   * The security group of every function that connects to the proxy. One group, owned here and
   * admitted once, instead of a rule per function: a rule on the proxy's group naming a function's
   * own group would make this (stateful) stack depend on the stateless one.
   */
  readonly clientSecurityGroup: SecurityGroup;
  private readonly budget: TimeAndCapacityBudget['database'];

  constructor(scope: Construct, id: string, props: CheckoutDatabaseProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(props.instanceIdentifier)) {
      throw new Error(
        `instanceIdentifier must be lower case letters, digits and -, got "${props.instanceIdentifier}"`,
      );
    }
    this.budget = props.budget;
    this.databaseName = props.databaseName ?? 'checkout';
    this.username = props.username ?? 'checkout';

    this.instance = this.createInstance(props);
    if (!this.instance.secret) throw new Error('the database instance has no generated secret');
    this.secret = this.instance.secret;

    ({
      applicationSecret: this.applicationSecret,
      applicationSecretRotation: this.applicationSecretRotation,
    } = this.rotateCredentials(props));
    ({ proxy: this.proxy, clientSecurityGroup: this.clientSecurityGroup } = this.createProxy(props));
    // What only the instance uses is kept as long as it is: its subnet and parameter groups, and the
    // owner's and the application role's secrets (a retained database whose passwords went with the
    // stack is locked).
    RemovalPolicies.of(this).apply(props.removalPolicy, {
      applyToResourceTypes: [
        'AWS::RDS::DBSubnetGroup',
        'AWS::RDS::DBParameterGroup',
        'AWS::SecretsManager::Secret',
      ],
    });
    this.acknowledgeFindings(props);
  }

  /** The instance, its parameter group, its log group and its security group. */
  private createInstance(props: CheckoutDatabaseProps): DatabaseInstance {
    const engine = DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_16 });
    const parameterGroup = new ParameterGroup(this, 'Parameters', {
      engine,
      description: 'Checkout PostgreSQL 16: TLS only, slow statements logged, connections per the budget',
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '500',
        // Declared, not left to the memory formula: the budget proves the functions' pools fit it.
        max_connections: String(props.budget.maxConnections),
      },
    });

    // RDS creates these groups itself when it starts exporting logs, with no retention; creating
    // them first (and the instance after them) sets the retention without a log-retention custom
    // resource. Both log types PostgreSQL has: the server log and the engine upgrade log.
    const logGroups = Object.entries(EXPORTED_LOGS).map(
      ([logType, groupId]) =>
        new LogGroup(this, groupId, {
          logGroupName: `/aws/rds/instance/${props.instanceIdentifier}/${logType}`,
          retention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
    );

    const instanceSecurityGroup = new SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: props.vpc,
      description: 'Checkout PostgreSQL instance: reachable from its proxy and the rotation function only',
      allowAllOutbound: false,
    });

    const instance = new DatabaseInstance(this, 'Instance', {
      instanceIdentifier: props.instanceIdentifier,
      engine,
      instanceType: props.instanceType,
      vpc: props.vpc,
      vpcSubnets: ISOLATED,
      securityGroups: [instanceSecurityGroup],
      databaseName: this.databaseName,
      credentials: Credentials.fromGeneratedSecret(this.username),
      parameterGroup,
      multiAz: props.multiAz,
      storageType: StorageType.GP3,
      allocatedStorage: props.allocatedStorageGiB,
      maxAllocatedStorage: props.maxAllocatedStorageGiB,
      storageEncrypted: true,
      caCertificate: CaCertificate.RDS_CA_RSA2048_G1,
      iamAuthentication: true,
      publiclyAccessible: false,
      backupRetention: props.backupRetention,
      deleteAutomatedBackups: false,
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      cloudwatchLogsExports: Object.keys(EXPORTED_LOGS),
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      ...(props.detailedMonitoring
        ? { enablePerformanceInsights: true, monitoringInterval: Duration.seconds(60) }
        : {}),
    });
    instance.node.addDependency(...logGroups);
    return instance;
  }

  /** Scheduled rotation of the owner's secret, and the application role's secret with its own. */
  private rotateCredentials(props: CheckoutDatabaseProps) {
    const ownerRotation = this.hostedRotation(
      props,
      'RotationLogs',
      `${props.instanceIdentifier}-secret-rotation`,
    );
    this.secret.addRotationSchedule('Rotation', {
      hostedRotation: ownerRotation,
      automaticallyAfter: props.secretRotation,
    });
    this.instance.connections.allowDefaultPortFrom(ownerRotation, 'Secret rotation function');

    // Host, port and engine attached, as the rotation function needs them.
    const applicationSecret = new DatabaseSecret(this, 'ApplicationSecret', {
      username: APPLICATION_ROLE,
      dbname: this.databaseName,
      masterSecret: this.secret,
    }).attach(this.instance);
    // Single user: the role changes its own password, it needs no one's rights for that.
    const applicationRotation = this.hostedRotation(
      props,
      'ApplicationRotationLogs',
      `${props.instanceIdentifier}-app-secret-rotation`,
    );
    const applicationSecretRotation = applicationSecret.addRotationSchedule('Rotation', {
      hostedRotation: applicationRotation,
      automaticallyAfter: props.secretRotation,
    });
    this.instance.connections.allowDefaultPortFrom(
      applicationRotation,
      'Application secret rotation function',
    );
    return { applicationSecret, applicationSecretRotation };
  }

  /** A single-user rotation function in the VPC, with a log group (and its retention) made first. */
  private hostedRotation(props: CheckoutDatabaseProps, logsId: string, functionName: string): HostedRotation {
    const rotation = HostedRotation.postgreSqlSingleUser({
      functionName,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    });
    // Its log group, for the same reason as the instance's: a retention without a custom resource.
    new LogGroup(this, logsId, {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    return rotation;
  }

  /** The proxy (TLS, IAM auth) and the one security group its clients run in. */
  private createProxy(props: CheckoutDatabaseProps) {
    const proxy = this.instance.addProxy('Proxy', {
      vpc: props.vpc,
      vpcSubnets: ISOLATED,
      // The owner for the migration runner, the application role for everything else.
      secrets: [this.secret, this.applicationSecret],
      iamAuth: true,
      requireTLS: true,
      // Lambdas hold idle connections between invocations; reclaim them well before the default 30 min.
      idleClientTimeout: Duration.seconds(props.budget.proxyIdleClientTimeoutSeconds),
      maxConnectionsPercent: props.budget.proxyMaxConnectionsPercent,
      maxIdleConnectionsPercent: 10,
      // Shorter than every function that waits for it (docs/adr/0020): a saturated proxy fails
      // a statement with a retryable error instead of outliving the function.
      borrowTimeout: Duration.seconds(props.budget.proxyBorrowTimeoutSeconds),
      debugLogging: false,
    });

    const clientSecurityGroup = new SecurityGroup(this, 'ClientSecurityGroup', {
      vpc: props.vpc,
      description: 'Checkout functions that connect to the database proxy',
      allowAllOutbound: true,
    });
    proxy.connections.allowFrom(clientSecurityGroup, Port.tcp(PROXY_PORT), 'Checkout functions');
    return { proxy, clientSecurityGroup };
  }

  /** The cdk-nag findings this construct accepts, each with its reason. */
  private acknowledgeFindings(props: CheckoutDatabaseProps): void {
    if (props.detailedMonitoring) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
        reason:
          'Enhanced monitoring needs the AWS maintained monitoring role policy; it only lets RDS write OS metrics to CloudWatch Logs.',
      });
    } else {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason:
          'Non-production stage: a single-AZ instance is enough; production runs Multi-AZ (stage config).',
      });
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: 'Non-production stage: torn down with cdk destroy; production enables deletion protection.',
      });
    }
    const defaultPort =
      'The instance sits in isolated subnets and admits only its proxy and rotation function; a non-default ' +
      'port would add no protection and clients talk to the proxy on 5432 anyway.';
    Validations.of(this.instance).acknowledge({ id: 'AwsSolutions-RDS11', reason: defaultPort });
    acknowledgeControl(this.instance, 'CT.RDS.PR.20', defaultPort);
    acknowledgeControl(
      this.instance,
      'CT.RDS.PR.30',
      "Storage is encrypted with RDS's AWS managed key. A customer managed key would matter for sharing " +
        'snapshots with another account, which this service does not do; switching later means restoring a ' +
        'snapshot into a new instance (docs/adr/0021-control-tower-rules-and-retained-resources.md).',
    );
    if (!props.multiAz) {
      acknowledgeControl(
        this.instance,
        'CT.RDS.PR.1',
        'Non-production stage: one AZ is enough; production runs Multi-AZ (stage config).',
      );
    }
    if (!props.deletionProtection) {
      acknowledgeControl(
        this.instance,
        'CT.RDS.PR.13',
        'Non-production stage: torn down with cdk destroy; production enables deletion protection (stage config).',
      );
    }
    if (!props.detailedMonitoring) {
      acknowledgeControl(
        this.instance,
        'CT.RDS.PR.2',
        'Non-production stage: no enhanced monitoring; production turns it on with Performance Insights (stage config).',
      );
    }
  }

  /**
   * Lets a function connect through the proxy as the application role: sets `DB_PROXY_ENDPOINT`,
   * `DB_PORT`, `DB_NAME` and `DB_USER` (the `database` group of `src/config/variables.ts`), its pool
   * size and connect timeout from the budget, and grants `rds-db:connect` for that user only. The
   * function must run in {@link clientSecurityGroup}, which the proxy admits.
   */
  grantConnect(fn: CheckoutFunction): void {
    this.connectAs(fn, APPLICATION_ROLE);
  }

  /**
   * Lets the migration runner connect as the owner, and read the application role's secret to
   * set that role's password after migrating (`APP_DB_SECRET_ARN`). No other function may.
   */
  grantMigrations(fn: CheckoutFunction): void {
    this.connectAs(fn, this.username);
    setEnvironment(fn.function, config.migrations, {
      applicationSecretArn: this.applicationSecret.secretArn,
    });
    this.applicationSecret.grantRead(fn.function);
  }

  private connectAs(checkoutFunction: CheckoutFunction, user: string): void {
    const fn = checkoutFunction.function;
    if (!fn.isBoundToVpc || !fn.connections.securityGroups.includes(this.clientSecurityGroup)) {
      throw new Error(`${fn.node.path} must run in the database client security group to reach the proxy`);
    }
    const { poolMax } = checkoutFunction.budget;
    if (!poolMax)
      throw new Error(`${fn.node.path} connects to the database but its budget line has no poolMax`);
    setEnvironment(fn, config.database, {
      proxyEndpoint: this.proxy.endpoint,
      port: PROXY_PORT,
      name: this.databaseName,
      user,
      poolMax,
      connectTimeoutSeconds: this.budget.connectTimeoutSeconds,
    });
    this.proxy.grantConnect(fn, user);
  }
}
