import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { InstanceClass, InstanceSize, InstanceType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

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
  /** What happens to stateful resources (database, tables, queues, user pool) when they leave the stack. */
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  readonly multiAz: boolean;
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
  /** Steady-state requests per second and burst for the whole API stage. */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Limits per API client (API key) in the usage plan. */
  readonly apiClientThrottle: {
    readonly rateLimit: number;
    readonly burstLimit: number;
    readonly requestsPerDay: number;
  };
  /** API clients (web, mobile, ...) that get an API key in the usage plan. */
  readonly apiClients: readonly string[];
  /**
   * Each customer's own limits, enforced by the functions (`src/api/customer-limits.ts`): requests
   * on every customer route, and checkouts, per minute.
   */
  readonly customerLimits: { readonly requestsPerMinute: number; readonly checkoutsPerMinute: number };
  /**
   * The firewall's rate rules, per minute: per source IP, and per bearer token so that one
   * customer cannot spend a client app's usage-plan quota (AWS WAF's minimum is 10).
   */
  readonly firewallLimits: {
    readonly requestsPerIpPerMinute: number;
    readonly requestsPerTokenPerMinute: number;
  };
  /**
   * IAM principals allowed on the admin routes: role names in the stage's account, or principal ARN
   * patterns (`*` allowed, e.g. an IAM Identity Center role). Nobody else can call them, whatever
   * their IAM policies say (docs/runbooks/admin-access.md).
   */
  readonly adminPrincipals: readonly string[];
  readonly paymentProvider: PaymentProviderConfig;
  /** Client-side hard timeout of every payment call (docs/architecture.md, "The parts"). */
  readonly paymentTimeout: Duration;
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
  const firewallLimits = { requestsPerIpPerMinute: 1000, requestsPerTokenPerMinute: 300 };
  if (stageName === 'prod') {
    return {
      stageName,
      production: true,
      removalPolicy: RemovalPolicy.RETAIN,
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
      apiThrottle: { rateLimit: 500, burstLimit: 1000 },
      apiClientThrottle: { rateLimit: 200, burstLimit: 400, requestsPerDay: 5_000_000 },
      apiClients: ['web', 'mobile'],
      customerLimits,
      firewallLimits,
      adminPrincipals: adminPrincipals('checkout-prod-operator'),
      paymentProvider: {
        kind: 'external',
        ...(context.paymentProviderUrl ? { url: validUrl(context.paymentProviderUrl) } : {}),
        ssmParameterName: '/checkout/prod/payment-provider-url',
      },
      paymentTimeout: Duration.seconds(15),
      ...opsEmail,
    };
  }
  if (stageName === 'staging') {
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
      databaseBackupRetention: Duration.days(1),
      secretRotation: Duration.days(30),
      logRetention: RetentionDays.ONE_MONTH,
      powertoolsLogLevel: 'INFO',
      apiThrottle: { rateLimit: 500, burstLimit: 1000 },
      apiClientThrottle: { rateLimit: 200, burstLimit: 400, requestsPerDay: 5_000_000 },
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
      paymentTimeout: Duration.seconds(15),
      smokeTest: true,
      allAtOnceRollouts: true,
      ...opsEmail,
    };
  }
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
    databaseBackupRetention: Duration.days(1),
    secretRotation: Duration.days(30),
    logRetention: RetentionDays.ONE_MONTH,
    powertoolsLogLevel: 'DEBUG',
    apiThrottle: { rateLimit: 50, burstLimit: 100 },
    apiClientThrottle: { rateLimit: 20, burstLimit: 40, requestsPerDay: 100_000 },
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
    paymentTimeout: Duration.seconds(15),
    ...opsEmail,
  };
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
