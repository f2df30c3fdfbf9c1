import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Sql } from 'postgres';
import { LIMITS_KEY_ATTRIBUTE } from '../src/api/customer-limits.js';
import { type ConfigGroup, type GroupValues, readGroup } from '../src/config/declarations.js';
import * as variables from '../src/config/variables.js';
import { createSql } from '../src/db/client.js';
import { CompensationStore } from '../src/db/compensations.js';
import { migrate } from '../src/db/migrations.js';
import { OrderStore } from '../src/db/orders.js';
import { RecoveryStore } from '../src/db/recovery.js';
import { APPLICATION_ROLE, setRolePassword, urlForRole } from '../src/db/roles.js';
import { sweepStuckOrders } from '../src/ops/sweeper.js';
import { hostConfiguration } from '../src/roots/configuration.js';
import { endContainerPool } from '../src/roots/database.js';
import { containerPaymentSaga, injectSideEffectFaults } from '../src/roots/saga.js';
import { compensationMessageOf, SqsCompensationQueue } from '../src/saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../src/saga/step-functions-starter.js';
import { startLocalApiServer } from './api-server.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  createStringKeyTable,
  startLocalDynamoDb,
} from './aws/dynamodb.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws/local-account.js';
import { createLocalSqsClient, createQueueWithDlq, startLocalSqs } from './aws/sqs.js';
import { startSqsPoller } from './aws/sqs-poller.js';
import { startStepFunctionsEndpoint } from './aws/step-functions-endpoint.js';
import { seedDemoCatalog } from './demo-catalog.js';
import { LocalEventSink, startLocalOutboxRelay } from './event-sink.js';
import { JournaledProviderStore } from './payment-provider/journaled-store.js';
import { startSimulatedProvider } from './payment-provider/server.js';
import { startPgBouncer } from './pgbouncer.js';
import { findFreePort } from './ports.js';
import { startLocalPostgres, stopOrphanedPostgres } from './postgres.js';
import { INJECTED_FAULTS_FILE, recordFailureFaults } from './record-failures.js';
import { createLocalPaymentSaga } from './saga.js';
import { type LocalStackState, STATE_FILE } from './stack-state.js';
import { repeatEvery } from './timers.js';
import { UsageMeter } from './usage.js';

/** Everything `npm start` needs to know; see README "Local contract". */
export interface LocalStackConfig {
  readonly dataDir: string;
  readonly apiPort: number;
  readonly providerPort: number;
  readonly postgresPort: number;
  readonly sqsPort: number;
  readonly dynamoDbPort: number;
  readonly stepFunctionsPort: number;
  /** Use this PostgreSQL instead of the embedded one. */
  readonly databaseUrl?: string;
  /** Multiplies every saga Retry interval: 0.001 turns the 60 s capture backoff into 60 ms. */
  readonly timeScale: number;
  /** How long an order may sit in PENDING/AUTHORIZED before the sweeper looks at it. */
  readonly sweeperStuckAfterSeconds: number;
  readonly sweeperIntervalMs: number;
  /** Compensation queue receives before a message moves to the DLQ (AWS: 5). */
  readonly maxReceiveCount: number;
  /** Seconds a failed compensation waits before the worker sees it again (the queue's visibility timeout). */
  readonly compensationRetrySeconds: number;
  /** Put PgBouncer (transaction mode, the RDS Proxy stand-in) between the handlers and PostgreSQL. */
  readonly pgBouncer: boolean;
  /**
   * Share (0..1) of successful provider side effects whose database record is made to fail
   * (`LOCAL_FAULT_RECORD_FAILURE_RATE`, for chaos runs; each injection is logged to
   * `injected-faults.jsonl` in the data folder).
   * @default 0
   */
  readonly recordFailureRate?: number;
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly providerUrl: string;
  /** Stops taking requests, lets those in flight finish, then stops every component. */
  close(): Promise<void>;
}

export { type LocalStackState, STATE_FILE } from './stack-state.js';

const QUEUE_NAME = 'checkout-compensations';
const IDEMPOTENCY_TABLE = 'checkout-idempotency';
const CUSTOMER_LIMITS_TABLE = 'checkout-customer-limits';

/** A configuration problem the user can fix; printed without a stack trace. */
export class LocalStackConfigError extends Error {
  override readonly name = 'LocalStackConfigError';
}

/**
 * Starts the whole system on this machine (docs/adr/0005): PostgreSQL, DynamoDB and SQS stand-ins,
 * the simulated payment provider, the saga (the ASL file, the real task handlers), the compensation
 * worker behind an SQS poller, the sweeper on a timer and the API behind a local API Gateway.
 * `progress` is told each step as it begins.
 */
export async function startLocalStack(
  config: LocalStackConfig,
  progress: (step: string) => void,
): Promise<LocalStack> {
  const stops: [string, () => Promise<void>][] = [];
  const stopAll = async () => {
    for (const [name, stop] of stops.reverse()) {
      progress(`stopping ${name}`);
      await stop().catch((error: unknown) => progress(`stopping ${name} failed: ${String(error)}`));
    }
  };
  try {
    if (!config.databaseUrl && (await stopOrphanedPostgres(path.join(config.dataDir, 'postgres')))) {
      progress('stopped the PostgreSQL a crashed earlier run left behind');
    }
    progress('checking ports');
    await assertPortsFree({
      PORT: config.apiPort,
      PAYMENT_PROVIDER_PORT: config.providerPort,
      LOCAL_SQS_PORT: config.sqsPort,
      LOCAL_DYNAMODB_PORT: config.dynamoDbPort,
      LOCAL_STEPFUNCTIONS_PORT: config.stepFunctionsPort,
      ...(config.databaseUrl ? {} : { LOCAL_POSTGRES_PORT: config.postgresPort }),
    });
    await mkdir(config.dataDir, { recursive: true });

    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      progress(`starting PostgreSQL 16 on 127.0.0.1:${config.postgresPort}`);
      const postgres = await startLocalPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.postgresPort,
      });
      stops.push(['PostgreSQL', () => postgres.stop()]);
      databaseUrl = postgres.adminUrl;
    } else {
      progress('connecting to DATABASE_URL');
    }
    const sql = createSql(databaseUrl, { max: 4, connectTimeoutSeconds: 5 });
    stops.push(['the database pool', () => sql.end({ timeout: 5 })]);
    await assertDatabaseReachable(sql);

    // What AWS would bill, counted by the stand-ins; the bench reads it (GET /_local/usage).
    const usage = new UsageMeter();
    progress('applying migrations and seeding the demo catalog');
    await migrate(sql, { directory: path.resolve(import.meta.dirname, '../migrations') });
    await seedDemoCatalog(sql);
    // Everything after this point connects as the application role, as the functions do in AWS;
    // the owner's pool above only migrates, seeds and restores. A new password on every start.
    const applicationPassword = randomBytes(24).toString('base64url');
    await setRolePassword(sql, APPLICATION_ROLE, applicationPassword);
    const applicationUrl = urlForRole(databaseUrl, APPLICATION_ROLE, applicationPassword);
    const appSql = createSql(applicationUrl, { max: 4, connectTimeoutSeconds: 5 });
    stops.push(["the application role's pool", () => appSql.end({ timeout: 5 })]);

    progress(`starting DynamoDB (dynalite) on 127.0.0.1:${config.dynamoDbPort}`);
    const dynamo = await startLocalDynamoDb({
      port: config.dynamoDbPort,
      usage,
      dataDir: path.join(config.dataDir, 'dynamodb'),
    });
    stops.push(['DynamoDB', () => dynamo.close()]);
    const dynamoClient = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(dynamoClient, IDEMPOTENCY_TABLE);
    await createStringKeyTable(dynamoClient, CUSTOMER_LIMITS_TABLE, LIMITS_KEY_ATTRIBUTE);
    dynamoClient.destroy();

    progress(`starting SQS (compensation queue and DLQ) on 127.0.0.1:${config.sqsPort}`);
    const sqsServer = await startLocalSqs({ port: config.sqsPort, usage });
    stops.push(['SQS', () => sqsServer.close()]);
    const sqs = createLocalSqsClient(sqsServer.endpoint);
    stops.push(['the SQS client', async () => sqs.destroy()]);
    const queue = await createQueueWithDlq(sqs, {
      name: QUEUE_NAME,
      maxReceiveCount: config.maxReceiveCount,
      visibilityTimeoutSeconds: config.compensationRetrySeconds,
    });

    let handlerDatabaseUrl = applicationUrl;
    if (config.pgBouncer) {
      progress('starting PgBouncer (transaction mode) in front of PostgreSQL');
      const bouncer = await startPgBouncer({
        serverUrl: applicationUrl,
        port: await findFreePort(),
        workDir: path.join(config.dataDir, 'pgbouncer'),
      });
      stops.push(['PgBouncer', () => bouncer.stop()]);
      handlerDatabaseUrl = bouncer.url;
    }

    progress(`starting the simulated payment provider on 127.0.0.1:${config.providerPort}`);
    // The payment routes want a credential as in AWS; the ledger and fault controls stay open locally.
    const providerKey = randomBytes(24).toString('base64url');
    const provider = await startSimulatedProvider({
      port: config.providerPort,
      credential: { key: providerKey, scope: 'payments' },
      store: await JournaledProviderStore.open(path.join(config.dataDir, 'payment-provider.jsonl')),
    });
    stops.push(['the payment provider', () => provider.close()]);

    // The handler modules' configuration, as objects (src/roots/configuration.ts): what CDK sets
    // in AWS, over whatever the environment `npm start` got (CUSTOMER_*_PER_MINUTE, tunings).
    const configured = <G extends ConfigGroup>(declared: G, given: Partial<GroupValues<G>>) =>
      readGroup(declared, process.env, given);
    const aws = {
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoints: { dynamodb: dynamo.endpoint, sqs: sqsServer.endpoint },
    };
    // Local calls answer in milliseconds: a 2 s provider timeout unless `npm start` was given one.
    const localDefaults = { [variables.paymentProvider.variables.timeoutMs.name]: '2000' };
    const handlerConfiguration = {
      aws,
      database: configured(variables.database, { url: handlerDatabaseUrl, poolMax: 8 }),
      paymentProvider: readGroup(
        variables.paymentProvider,
        { ...localDefaults, ...process.env },
        {
          url: provider.url,
          apiKey: providerKey,
          // The breaker's 60 s half-open delay is compressed like every other wait.
          breakerHalfOpenAfterMs: Math.max(50, Math.round(60_000 * config.timeScale)),
        },
      ),
      idempotency: configured(variables.idempotency, { tableName: IDEMPOTENCY_TABLE }),
      customerLimits: configured(variables.customerLimits, { tableName: CUSTOMER_LIMITS_TABLE }),
      compensationQueue: configured(variables.compensationQueue, { url: queue.queueUrl }),
      compensationWorker: configured(variables.compensationWorker, {
        maxReceiveCount: config.maxReceiveCount,
      }),
    };
    hostConfiguration(handlerConfiguration);

    const recordFailureRate = config.recordFailureRate ?? 0;
    if (recordFailureRate > 0) {
      const file = path.join(config.dataDir, INJECTED_FAULTS_FILE);
      progress(
        `injecting record failures after ${recordFailureRate * 100} % of provider side effects (${file})`,
      );
      injectSideEffectFaults(recordFailureFaults({ rate: recordFailureRate, file }));
    }

    progress('starting the payment saga (statemachines/payment-saga.asl.json)');
    const machine = await createLocalPaymentSaga({
      sqsClient: sqs,
      compensationQueueUrl: queue.queueUrl,
      retryIntervalScale: config.timeScale,
      usage,
    });
    const stepFunctions = await startStepFunctionsEndpoint({ machine, port: config.stepFunctionsPort });
    stops.push(['Step Functions', () => stepFunctions.close()]);
    hostConfiguration({
      ...handlerConfiguration,
      aws: { ...aws, endpoints: { ...aws.endpoints, sfn: stepFunctions.endpoint } },
      stateMachine: configured(variables.stateMachine, { arn: machine.stateMachineArn }),
    });
    stops.push(["the handlers' database pool", () => endContainerPool()]);

    progress('starting the compensation worker');
    await restoreCompensationQueue(sql, sqs, queue);
    const poller = startSqsPoller({
      client: sqs,
      queueUrl: queue.queueUrl,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: config.compensationRetrySeconds,
      functionName: 'checkout-compensation-worker',
      handler: async (event, context) => {
        const { handler } = await import('../lambdas/workers/compensation-worker.js');
        return usage.invoke('checkout-compensation-worker', () => handler(event, context));
      },
    });
    stops.push(['the compensation worker', () => poller.stop()]);

    progress('starting the crash-recovery sweeper');
    const sfnClient = new SFNClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stepFunctions.endpoint,
    });
    stops.push(['the Step Functions client', async () => sfnClient.destroy()]);
    const runner = new StepFunctionsSagaStarter(sfnClient, machine.stateMachineArn);
    const sweeperDeps = {
      recovery: new RecoveryStore(appSql),
      orders: new OrderStore(appSql),
      saga: containerPaymentSaga(),
      starter: runner,
      inspector: runner,
      compensationQueue: new SqsCompensationQueue(sqs, queue.queueUrl),
    };
    // Sagas in flight when the stack last stopped died with it: pick them up straight away.
    await sweepStuckOrders(sweeperDeps, { stuckAfterSeconds: 0, batchSize: 500 });
    const sweeper = repeatEvery(config.sweeperIntervalMs, () =>
      sweepStuckOrders(sweeperDeps, { stuckAfterSeconds: config.sweeperStuckAfterSeconds }),
    );
    stops.push(['the sweeper', () => sweeper.stop()]);

    progress(`starting the outbox relay (events go to ${path.join(config.dataDir, 'events.jsonl')})`);
    const relay = startLocalOutboxRelay({
      sql: appSql,
      publisher: new LocalEventSink({ file: path.join(config.dataDir, 'events.jsonl'), usage }),
      intervalMs: 1000,
    });
    stops.push(['the outbox relay', () => relay.stop()]);

    progress(`starting the API on 127.0.0.1:${config.apiPort}`);
    const api = await startLocalApiServer({ port: config.apiPort, usage });
    stops.push(['the API (requests in flight finish first)', () => api.close()]);

    const state: LocalStackState = {
      pid: process.pid,
      apiUrl: api.url,
      providerUrl: provider.url,
      sqsEndpoint: sqsServer.endpoint,
      compensationQueueArn: queue.queueArn,
      compensationDlqArn: queue.dlqArn,
      stepFunctionsEndpoint: stepFunctions.endpoint,
      stateMachineArn: machine.stateMachineArn,
    };
    await writeFile(path.join(config.dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);

    return { apiUrl: api.url, providerUrl: provider.url, close: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) {
      throw new LocalStackConfigError(
        `port ${port} on 127.0.0.1 is already in use; stop what uses it or choose another with ${name}=<port>`,
      );
    }
  }
}

async function assertDatabaseReachable(sql: Sql): Promise<void> {
  try {
    await sql`select 1`;
  } catch (error) {
    throw new LocalStackConfigError(
      `cannot reach the database: ${error instanceof Error ? error.message : String(error)} (check DATABASE_URL)`,
    );
  }
}

/**
 * The local SQS keeps messages in memory; the audit table does not. After a restart, unresolved
 * compensations are queued again (the worker is idempotent on compensationId) and those that had
 * exhausted their retries go back to the DLQ, where `npm run redrive` finds them.
 */
async function restoreCompensationQueue(
  sql: Sql,
  sqs: SQSClient,
  queue: { queueUrl: string; dlqUrl: string },
): Promise<void> {
  const open = await new CompensationStore(sql).list({ limit: 1000 });
  for (const compensation of open) {
    if (compensation.status === 'RESOLVED') continue;
    const body = JSON.stringify(compensationMessageOf(compensation));
    const queueUrl = compensation.status === 'FAILED' ? queue.dlqUrl : queue.queueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }
}
