import { type App, Aspects, type Environment, RemovalPolicies, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { type StageConfig, stageConfig } from './config.js';
import { AllAtOnceRollouts } from './constructs/all-at-once-rollouts.js';
import type { PowertoolsSettings } from './constructs/checkout-function.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

/**
 * Synth without credentials (CI) still gets a concrete environment, so availability zones come
 * from cdk.context.json instead of a lookup. A deploy always has credentials, and the CLI then
 * passes the real account in CDK_DEFAULT_ACCOUNT.
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
 * Adds the checkout stacks of the stage named by the `stage` context (`-c stage=dev|staging|prod`, default
 * dev) to an app, with the cdk-nag AwsSolutions checks as a synth-time validation: a finding that
 * is not acknowledged on its construct (with a reason) fails the synth.
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

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  return { config, ...addStageStacks(app, config, env) };
}

/**
 * The stacks of one stage, in `scope`: the app itself (`cdk deploy -c stage=...`) or a stage of the
 * delivery pipeline (lib/pipeline.ts). Validation plugins belong to the app, which runs them on
 * every stage nested in it.
 */
export function addStageStacks(scope: Construct, config: StageConfig, env: Environment): CheckoutStacks {
  const powertools: PowertoolsSettings = {
    serviceName: 'checkout',
    metricsNamespace: 'Checkout',
    logLevel: config.powertoolsLogLevel,
  };

  const stateful = new StatefulStack(scope, 'Stateful', {
    env,
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
    customerLimits: stateful.customerLimits,
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
      // Production logs are an audit trail: they outlive the functions and stacks that wrote them.
      RemovalPolicies.of(stack).retain({ applyToResourceTypes: ['AWS::Logs::LogGroup'] });
    }
    Tags.of(stack).add('app', 'checkout');
    Tags.of(stack).add('stage', config.stageName);
  }
  return { stateful, stateless };
}
