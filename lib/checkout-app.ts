import { type App, type Environment, RemovalPolicies, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { budgetViolations } from '../src/config/budget.js';
import { type StageConfig, stageConfig } from './config.js';
import type { PowertoolsSettings } from './constructs/checkout-function.js';
import { paymentSagaDefinitionView } from './saga-tasks.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

/**
 * Synth without credentials (CI) still gets a concrete environment, so availability zones come
 * from cdk.context.json instead of a lookup. A deploy always has credentials, and the CLI then
 * passes the real account in CDK_DEFAULT_ACCOUNT.
 */
export const SYNTH_ONLY_ACCOUNT = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

export interface CheckoutApp {
  readonly config: StageConfig;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
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
 * Adds the checkout stacks of the stage named by the `stage` context (`-c stage=dev|prod`, default
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
  assertBudgetHolds(config);
  const env: Environment = {
    account: context('account') ?? process.env.CDK_DEFAULT_ACCOUNT ?? SYNTH_ONLY_ACCOUNT,
    region: context('region') ?? process.env.CDK_DEFAULT_REGION ?? DEFAULT_REGION,
  };
  const powertools: PowertoolsSettings = {
    serviceName: 'checkout',
    metricsNamespace: 'Checkout',
    logLevel: config.powertoolsLogLevel,
  };

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  const stateful = new StatefulStack(app, 'Stateful', {
    env,
    stackName: `checkout-${config.stageName}-stateful`,
    description: `Checkout (${config.stageName}): network, database, tables, queues, identity, ops topic`,
    terminationProtection: config.production,
    config,
    powertools,
  });
  const stateless = new StatelessStack(app, 'Stateless', {
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
    paymentProviderCredential: stateful.paymentProviderCredential.secret,
    userPool: stateful.identity.userPool,
    eventBus: stateful.eventBus,
    opsTopic: stateful.opsTopic.topic,
    deadLetterQueueConsoleUrl: stateful.deadLetterQueueConsoleUrl,
  });
  stateless.addStackDependency(stateful, 'the code needs the schema migrated and the resources it uses');

  if (config.production) {
    // Production logs are an audit trail: they outlive the functions and stacks that wrote them.
    RemovalPolicies.of(app).retain({ applyToResourceTypes: ['AWS::Logs::LogGroup'] });
  }
  Tags.of(app).add('app', 'checkout');
  Tags.of(app).add('stage', config.stageName);
  return { config, stateful, stateless };
}
