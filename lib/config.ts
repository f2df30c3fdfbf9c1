import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { InstanceClass, InstanceSize, InstanceType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { apiStageThrottle, checkoutBudget, type TimeAndCapacityBudget } from '../src/config/budget.js';

/**
 * The deployment stages this app knows: `cdk synth -c stage=dev|staging|prod`. `staging` is the
 * stage the delivery pipeline deploys and smoke-tests before production (docs/deploy.md).
 */
export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** The IAM role the delivery pipeline's smoke test runs as: an admin principal of staging. */
export const SMOKE_TEST_ROLE_NAME = 'checkout-staging-smoke-test';
/** The API client (usage-plan key) of the smoke test, in the stages with `smokeTest`. */
export const SMOKE_TEST_API_CLIENT = 'smoke-test';

/** Log levels Powertools understands (`POWERTOOLS_LOG_LEVEL`). */
export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Where the payment functions send their provider calls. */
export type PaymentProviderConfig =
  | {
      /** Deploy the simulated provider (docs/architecture.md, "The parts") behind a function URL. Never in production. */
      readonly kind: 'simulated';
    }
  | {
      readonly kind: 'external';
      /** Base URL given on the command line (`-c paymentProviderUrl=https://...`). @default - read from SSM */
      readonly url?: string;
      /** SSM String parameter holding the base URL, resolved by CloudFormation at deploy time. */
      readonly ssmParameterName: string;
    };

/** Everything that differs between stages. Stacks and constructs read it; they never test the stage name. */
export interface StageConfig {
  readonly stageName: StageName;
  /** Production-safe settings: deletion protection, Multi-AZ, retained data. */
  readonly production: boolean;
  /**
   * What happens to stateful resources (database and its secrets, tables, queues, user pool, keys)
   * when they leave the stack. Production keeps them (`RETAIN_ON_UPDATE_OR_DELETE`, CloudFormation's
   * `RetainExceptOnCreate`), except when the deploy that created them fails and rolls back, so that
   * deploy can simply be run again (docs/adr/0021-control-tower-rules-and-retained-resources.md).
   */
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  readonly multiAz: boolean;
  /** How many availability zones the VPC spans; which ones is {@link availabilityZonesOf}. */
  readonly maxAzs: number;
  /** NAT gateways for the Lambdas' egress to the payment provider; one per AZ in production. */
  readonly natGateways: number;
  readonly databaseInstanceType: InstanceType;
  readonly databaseAllocatedStorageGiB: number;
  readonly databaseMaxAllocatedStorageGiB: number;
  readonly databaseBackupRetention: Duration;
  /** Secret rotation period of the database credentials. */
  readonly secretRotation: Duration;
  /** Retention of every log group the app creates (Lambda, state machine, API access, flow logs). */
  readonly logRetention: RetentionDays;
  readonly powertoolsLogLevel: PowertoolsLogLevel;
  /**
   * Every timeout, retry, concurrency and pool size that crosses a layer (docs/adr/0020): the
   * functions, the queue, the proxy and the stage throttle are built from it.
   */
  readonly budget: TimeAndCapacityBudget;
  /**
   * Steady-state requests per second and burst for the whole API stage: sized from the budget, so
   * that the API functions' concurrency stays inside their reservations (`apiStageThrottle`).
   */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * API clients (web, mobile, ...) that get an API key in the usage plan. The plan identifies the
   * app and has no quota of its own: every customer of an app shares its key, so a daily quota
   * there would be one a handful of self-registered accounts could use up for everyone.
   */
  readonly apiClients: readonly string[];
  /**
   * Each customer's own limits, enforced by the functions (`src/api/customer-limits.ts`): requests
   * on every customer route, and checkouts, per minute.
   */
  readonly customerLimits: { readonly requestsPerMinute: number; readonly checkoutsPerMinute: number };
  /**
   * The firewall's rate rule per source IP, per minute (AWS WAF's minimum is 10). Its rules per
   * bearer token are the customer's own limits (`customerLimits`), so they apply before anything
   * shared (the stage throttle) counts the request.
   */
  readonly firewallLimits: { readonly requestsPerIpPerMinute: number };
  /**
   * IAM principals allowed on the admin routes: role names in the stage's account, or principal ARN
   * patterns (`*` allowed, e.g. an IAM Identity Center role). Nobody else can call them, whatever
   * their IAM policies say (docs/runbooks/admin-access.md).
   */
  readonly adminPrincipals: readonly string[];
  readonly paymentProvider: PaymentProviderConfig;
  /** E-mail subscribed to the ops topic. @default - no subscription */
  readonly opsEmail?: string;
  /**
   * What `npm run smoke` needs in AWS (docs/deploy.md, "The smoke test"): a Cognito app client that
   * signs its smoke-test customer in with IAM-authorised admin calls, and an API key of its own.
   * Never in production, whose provider has no test cards.
   * @default false
   */
  readonly smokeTest?: boolean;
  /**
   * Shift a new version of the functions and the saga all at once (same deployment groups, same
   * rollback alarms) instead of by canary: for a stage without customer traffic, where a canary
   * waits with nothing to judge. Staging's bake after the smoke test is its observation window.
   * @default false
   */
  readonly allAtOnceRollouts?: boolean;
}

/** The context values `bin/app.ts` reads (`-c key=value` or `cdk.json`). */
export interface StageContext {
  readonly stage?: string;
  readonly opsEmail?: string;
  readonly paymentProviderUrl?: string;
  /** Comma-separated admin principals, replacing the stage's default (`-c adminPrincipals=a,b`). */
  readonly adminPrincipals?: string;
}

/** Builds the configuration of a stage, refusing unknown stage names with the value that was given. */
export function stageConfig(context: StageContext = {}): StageConfig {
  const stageName = context.stage ?? 'dev';
  if (!isStageName(stageName)) {
    throw new Error(`unknown stage "${stageName}": use -c stage=${STAGE_NAMES.join('|')}`);
  }
  const opsEmail = context.opsEmail ? { opsEmail: context.opsEmail } : {};
  const adminPrincipals = (fallback: string) => validAdminPrincipals(context.adminPrincipals ?? fallback);
  // The seeds: a shopper never needs more, and a script spending more is refused early.
  const customerLimits = { requestsPerMinute: 100, checkoutsPerMinute: 10 };
  const firewallLimits = { requestsPerIpPerMinute: 1000 };
  if (stageName === 'prod') {
    const budget = checkoutBudget({
      paymentTimeoutSeconds: 15,
      // db.m7g.large (8 GiB): below RDS's default for its memory (LEAST(memory / 9531392, 5000)).
      maxConnections: 800,
      accountConcurrency: 1000,
      reservedConcurrency: PRODUCTION_RESERVED_CONCURRENCY,
    });
    return {
      stageName,
      production: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      deletionProtection: true,
      multiAz: true,
      maxAzs: 3,
      natGateways: 3,
      databaseInstanceType: InstanceType.of(InstanceClass.M7G, InstanceSize.LARGE),
      databaseAllocatedStorageGiB: 100,
      databaseMaxAllocatedStorageGiB: 1000,
      databaseBackupRetention: Duration.days(30),
      secretRotation: Duration.days(30),
      logRetention: RetentionDays.ONE_YEAR,
      powertoolsLogLevel: 'INFO',
      budget,
      apiThrottle: apiStageThrottle(budget),
      apiClients: ['web', 'mobile'],
      customerLimits,
      firewallLimits,
      adminPrincipals: adminPrincipals('checkout-prod-operator'),
      paymentProvider: {
        kind: 'external',
        ...(context.paymentProviderUrl ? { url: validUrl(context.paymentProviderUrl) } : {}),
        ssmParameterName: '/checkout/prod/payment-provider-url',
      },
      ...opsEmail,
    };
  }
  if (stageName === 'staging') {
    const stagingBudget = checkoutBudget({
      paymentTimeoutSeconds: 15,
      // db.t4g.medium (4 GiB): below RDS's default for its memory.
      maxConnections: 400,
      // Nothing is reserved outside production; staging's functions share what the account has,
      // and the proxy's connections bound how many of them the budget lets run at once.
      accountConcurrency: 100,
    });
    // Production's shape (Multi-AZ database, three AZs, its limits, clients and log level), so the
    // smoke test and the bake exercise what production runs; but torn down like dev, no reserved
    // concurrency, and the simulated provider, whose test cards the smoke test pays with.
    return {
      stageName,
      production: false,
      removalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
      multiAz: true,
      maxAzs: 3,
      natGateways: 1,
      databaseInstanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.MEDIUM),
      databaseAllocatedStorageGiB: 20,
      databaseMaxAllocatedStorageGiB: 100,
      // Control Tower's CT.RDS.PR.8 asks for 7 days at least, in every stage.
      databaseBackupRetention: Duration.days(7),
      secretRotation: Duration.days(30),
      logRetention: RetentionDays.ONE_MONTH,
      powertoolsLogLevel: 'INFO',
      budget: stagingBudget,
      apiThrottle: apiStageThrottle(stagingBudget),
      apiClients: ['web', 'mobile'],
      customerLimits,
      firewallLimits,
      // The pipeline's smoke test reads and stocks its product through the admin routes.
      adminPrincipals: adminPrincipals(`checkout-staging-operator,${SMOKE_TEST_ROLE_NAME}`),
      paymentProvider: context.paymentProviderUrl
        ? {
            kind: 'external',
            url: validUrl(context.paymentProviderUrl),
            ssmParameterName: '/checkout/staging/payment-provider-url',
          }
        : { kind: 'simulated' },
      smokeTest: true,
      allAtOnceRollouts: true,
      ...opsEmail,
    };
  }
  const budget = checkoutBudget({
    paymentTimeoutSeconds: 15,
    // db.t4g.micro (1 GiB): below RDS's default for its memory.
    maxConnections: 80,
    // A fresh account's quota; nothing is reserved, so the stack deploys there (docs/deploy.md).
    accountConcurrency: 10,
  });
  return {
    stageName,
    production: false,
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
    multiAz: false,
    maxAzs: 2,
    natGateways: 1,
    databaseInstanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.MICRO),
    databaseAllocatedStorageGiB: 20,
    databaseMaxAllocatedStorageGiB: 50,
    // The least AWS Control Tower accepts (CT.RDS.PR.8); a week of a small dev database fits in the
    // backup storage RDS includes at no charge.
    databaseBackupRetention: Duration.days(7),
    secretRotation: Duration.days(30),
    logRetention: RetentionDays.ONE_MONTH,
    powertoolsLogLevel: 'DEBUG',
    budget,
    apiThrottle: apiStageThrottle(budget),
    apiClients: ['web'],
    customerLimits,
    firewallLimits,
    adminPrincipals: adminPrincipals('checkout-dev-operator'),
    paymentProvider: context.paymentProviderUrl
      ? {
          kind: 'external',
          url: validUrl(context.paymentProviderUrl),
          ssmParameterName: '/checkout/dev/payment-provider-url',
        }
      : { kind: 'simulated' },
    ...opsEmail,
  };
}

/**
 * Production's reserved concurrency, by function (docs/adr/0020): the saga steps and the
 * compensation worker keep capacity a checkout burst cannot take, and every function that holds a
 * database connection has a ceiling, so Σ(concurrency × pool size) fits the proxy. The total plus
 * Lambda's 100 unreserved is the account quota production needs (README, "Deploy to AWS").
 */
export const PRODUCTION_RESERVED_CONCURRENCY: Readonly<Record<string, number>> = {
  // 300 checkouts/s (the load target) at its 0.5 s p99.
  placeOrder: 150,
  getOrder: 50,
  getLiveness: 5,
  getReadiness: 2,
  putProduct: 2,
  getProduct: 2,
  putWallet: 2,
  getWallet: 2,
  listCompensations: 2,
  retryCompensation: 2,
  getAdminOrder: 2,
  AuthorizePayment: 150,
  CapturePayment: 150,
  ReversePayment: 50,
  ConfirmOrder: 20,
  ReleaseReservations: 20,
  RefundStoreCredit: 20,
  CancelOrder: 20,
  MarkRequiresAttention: 10,
  FenceOrder: 20,
  CompensationWorker: 5,
  SagaStarter: 2,
  OrderSweeper: 1,
  OutboxRelay: 1,
  SchemaMigrations: 1,
};

/**
 * The availability zones a stage's VPC spans in `region`: the `availabilityZones` context value
 * (`-c availabilityZones=eu-west-1a,eu-west-1b`) when given, else the region's first `count` zones by
 * letter (`<region>a`, `<region>b`, ...). Named rather than looked up, so a synth needs no AWS
 * credentials and gives the same template whatever the account (docs/deploy.md, "Preflight").
 */
export function availabilityZonesOf(region: string, count: number, override?: string): string[] {
  const zones = override
    ? override
        .split(',')
        .map((zone) => zone.trim())
        .filter((zone) => zone !== '')
    : Array.from({ length: count }, (_, index) => `${region}${String.fromCharCode(97 + index)}`);
  for (const zone of zones) {
    if (!zone.startsWith(region) || !/^[a-z]$/.test(zone.slice(region.length))) {
      throw new Error(`availabilityZones: "${zone}" is not an availability zone of ${region}`);
    }
  }
  if (new Set(zones).size !== zones.length)
    throw new Error(`availabilityZones repeats a zone: ${zones.join(',')}`);
  if (zones.length !== count) {
    throw new Error(
      `availabilityZones: this stage spans ${count} zones, got ${zones.length} (${zones.join(',')})`,
    );
  }
  return zones;
}

function isStageName(value: string): value is StageName {
  return (STAGE_NAMES as readonly string[]).includes(value);
}

/** A role name (IAM's character set) or a principal ARN pattern. */
const ADMIN_PRINCIPAL = /^(?:[\w+=,.@-]{1,64}|arn:aws[\w-]*:(?:iam|sts)::\d{12}:[\w+=,.@/*-]+)$/;

function validAdminPrincipals(value: string): string[] {
  const principals = value
    .split(',')
    .map((principal) => principal.trim())
    .filter((principal) => principal !== '');
  if (principals.length === 0) throw new Error('adminPrincipals must name at least one IAM role or ARN');
  for (const principal of principals) {
    if (!ADMIN_PRINCIPAL.test(principal)) {
      throw new Error(`adminPrincipals: "${principal}" is neither an IAM role name nor a principal ARN`);
    }
  }
  return principals;
}

function validUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`paymentProviderUrl must be an absolute https URL, got "${value}"`);
  }
  if (url.protocol !== 'https:') throw new Error(`paymentProviderUrl must use https, got "${value}"`);
  return value.replace(/\/+$/, '');
}
