import type { ConfigOf } from '../config/declarations.js';
import { MIGRATION_FUNCTION, OUTBOX_RELAY_FUNCTION, SWEEPER_FUNCTION } from '../config/functions.js';
import { OrderStore } from '../db/orders.js';
import { RecoveryStore } from '../db/recovery.js';
import { EventBridgePublisher } from '../ops/event-publishers.js';
import type { SweeperDependencies } from '../ops/sweeper.js';
import { perContainer } from '../runtime/per-container.js';
import { secretField } from '../runtime/secrets.js';
import { tracedMethods } from '../runtime/tracing.js';
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { createPaymentSaga } from './saga.js';
import { awsClients, containerPool } from './shared.js';

/** The composition root of the scheduled jobs (sweeper, outbox relay) and the migration runner. */
type WithAws<C> = C & { readonly aws: AwsClientSettings };

/** The sweeper's dependencies and options from a configuration object. */
export function createSweeperRoot(config: WithAws<ConfigOf<typeof SWEEPER_FUNCTION>>) {
  const sql = containerPool(config.database);
  const stateMachine = new StepFunctionsSagaStarter(
    awsClients.stepFunctions(config.aws),
    config.stateMachine.arn,
  );
  const dependencies: SweeperDependencies = {
    recovery: tracedMethods(new RecoveryStore(sql), 'RecoveryStore'),
    orders: tracedMethods(new OrderStore(sql), 'OrderStore'),
    saga: createPaymentSaga(config),
    starter: stateMachine,
    inspector: stateMachine,
    compensationQueue: new SqsCompensationQueue(awsClients.sqs(config.aws), config.compensationQueue.url),
  };
  return { dependencies, options: { stuckAfterSeconds: config.sweeper.stuckAfterSeconds } };
}

/** The outbox relay's pool, publisher and settings from a configuration object. */
export function createOutboxRelayRoot(config: WithAws<ConfigOf<typeof OUTBOX_RELAY_FUNCTION>>) {
  const { eventBusName, ...settings } = config.outboxRelay;
  return {
    sql: containerPool(config.database),
    publisher: new EventBridgePublisher({ client: awsClients.eventBridge(config.aws), eventBusName }),
    settings,
  };
}

/** The migration runner's pool and, when configured, the application role's password. */
export function createMigrationRoot(config: ConfigOf<typeof MIGRATION_FUNCTION>) {
  const secretArn = config.migrations.applicationSecretArn;
  return {
    sql: () => containerPool(config.database),
    ...(secretArn ? { applicationPassword: () => secretField(secretArn, 'password') } : {}),
  };
}

export const containerSweeper = perContainer(() => createSweeperRoot(configurationFor(SWEEPER_FUNCTION)));
export const containerOutboxRelay = perContainer(() =>
  createOutboxRelayRoot(configurationFor(OUTBOX_RELAY_FUNCTION)),
);
export const containerMigrations = perContainer(() =>
  createMigrationRoot(configurationFor(MIGRATION_FUNCTION)),
);
