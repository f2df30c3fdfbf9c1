import { type App, Aspects, type Environment, RemovalPolicies, Tags } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { budgetViolations } from '../src/config/budget.js';
import { availabilityZonesOf, type StageConfig, stageConfig } from './config.js';
import { AllAtOnceRollouts } from './constructs/all-at-once-rollouts.js';
import type { PowertoolsSettings } from './constructs/checkout-function.js';
import { acknowledgeControlOnEvery, addPolicyValidation } from './policy-validation.js';
import { paymentSagaDefinitionView } from './saga-tasks.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

/**
 * The account of a synth without credentials (CI). A deploy always has credentials, and the CLI
 * then passes the real account in CDK_DEFAULT_ACCOUNT. Nothing in the app looks the account up:
 * the availability zones are a stage setting (`availabilityZonesOf`), so any account synthesizes
 * offline to the same template.
 */
export const SYNTH_ONLY_ACCOUNT = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

/** The two stacks of one stage. */
export interface CheckoutStacks {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

export interface CheckoutApp extends CheckoutStacks {
  readonly config: StageConfig;
}

/**
 * Refuses a stage whose time-and-capacity budget breaks one of its rules (docs/adr/0020), naming
 * every broken rule, before anything is built from it.
 */
export function assertBudgetHolds(config: StageConfig): void {
  const violations = budgetViolations(config.budget, paymentSagaDefinitionView());
  if (violations.length > 0) {
    throw new Error(
      `the ${config.stageName} time-and-capacity budget breaks its rules:\n- ${violations.join('\n- ')}`,
    );
  }
}

/**
 * Adds the checkout stacks of the stage named by the `stage` context (`-c stage=dev|staging|prod`,
 * default dev) to an app, and the app's rule sets (`addPolicyValidation`: cdk-nag's AwsSolutions checks and
 * AWS Control Tower's proactive controls): a finding that is not acknowledged on its construct
 * (with a reason) fails the synth.
 */
export function addCheckoutStacks(app: App): CheckoutApp {
  const context = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const config = stageConfig({
    stage: context('stage'),
    opsEmail: context('opsEmail'),
    paymentProviderUrl: context('paymentProviderUrl'),
    adminPrincipals: context('adminPrincipals'),
  });
  const env: Environment = {
    account: context('account') ?? process.env.CDK_DEFAULT_ACCOUNT ?? SYNTH_ONLY_ACCOUNT,
    region: context('region') ?? process.env.CDK_DEFAULT_REGION ?? DEFAULT_REGION,
  };

  addPolicyValidation(app);

  return { config, ...addStageStacks(app, config, env, context('availabilityZones')) };
}

/**
 * The stacks of one stage, in `scope`: the app itself (`cdk deploy -c stage=...`) or a stage of the
 * delivery pipeline (lib/pipeline.ts), after the stage's budget is checked. Validation plugins belong
 * to the app, which runs them on every stage nested in it. `availabilityZones` overrides the
 * stage's zones (`availabilityZonesOf`).
 */
export function addStageStacks(
  scope: Construct,
  config: StageConfig,
  env: Environment,
  availabilityZones?: string,
): CheckoutStacks {
  assertBudgetHolds(config);
  const powertools: PowertoolsSettings = {
    serviceName: 'checkout',
    metricsNamespace: 'Checkout',
    logLevel: config.powertoolsLogLevel,
  };

  const stateful = new StatefulStack(scope, 'Stateful', {
    env,
    availabilityZones: availabilityZonesOf(env.region as string, config.maxAzs, availabilityZones),
    stackName: `checkout-${config.stageName}-stateful`,
    description: `Checkout (${config.stageName}): network, database, tables, queues, identity, ops topic`,
    terminationProtection: config.production,
    config,
    powertools,
  });
  const stateless = new StatelessStack(scope, 'Stateless', {
    env,
    stackName: `checkout-${config.stageName}-stateless`,
    description: `Checkout (${config.stageName}): functions, payment saga, API, worker, dashboard and alarms`,
    config,
    powertools,
    vpc: stateful.network.vpc,
    database: stateful.database,
    apiIdempotency: stateful.apiIdempotency,
    compensationIdempotency: stateful.compensationIdempotency,
    compensationQueue: stateful.compensationQueue,
    sagaStartQueue: stateful.sagaStartQueue,
    customerLimits: stateful.customerLimits,
    operatorControls: stateful.operatorControls,
    paymentProviderCredential: stateful.paymentProviderCredential.secret,
    userPool: stateful.identity.userPool,
    eventBus: stateful.eventBus,
    opsTopic: stateful.opsTopic.topic,
    deadLetterQueueConsoleUrl: stateful.deadLetterQueueConsoleUrl,
  });
  stateless.addStackDependency(stateful, 'the code needs the schema migrated and the resources it uses');

  if (config.allAtOnceRollouts) Aspects.of(stateless).add(new AllAtOnceRollouts());
  // On the stacks, not the app: one app also holds the delivery pipeline and the stages it deploys.
  for (const stack of [stateful, stateless]) {
    if (config.production) {
      // Production logs are an audit trail: they outlive the functions and stacks that wrote them,
      // but not a first deploy that failed (docs/adr/0021-control-tower-rules-and-retained-resources.md).
      RemovalPolicies.of(stack).retainOnUpdateOrDelete({ applyToResourceTypes: ['AWS::Logs::LogGroup'] });
    }
    acknowledgeLogChoices(stack, config);
    Tags.of(stack).add('app', 'checkout');
    Tags.of(stack).add('stage', config.stageName);
  }
  return { stateful, stateless };
}

/** The Control Tower log-group controls this app answers with a choice instead of a change. */
function acknowledgeLogChoices(stack: StatefulStack | StatelessStack, config: StageConfig): void {
  acknowledgeControlOnEvery(
    stack,
    'AWS::Logs::LogGroup',
    'CT.CLOUDWATCH.PR.3',
    'CloudWatch Logs encrypts every log group at rest with keys it manages. A customer managed key would ' +
      'add a key policy to keep in step with every writer and reader, and a KMS call per batch: the logs hold ' +
      'order and customer ids, never card data or secrets (the provider holds those), which is not worth it.',
  );
  if (config.logRetention < RetentionDays.ONE_YEAR) {
    acknowledgeControlOnEvery(
      stack,
      'AWS::Logs::LogGroup',
      'CT.CLOUDWATCH.PR.2',
      `Non-production stage: its logs are kept ${config.logRetention} days (stage config logRetention); ` +
        'production keeps them a year.',
    );
  }
}
