import { SFNClient } from '@aws-sdk/client-sfn';
import { PurgeQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { LOCAL_AWS_ENVIRONMENT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import {
  createLocalSqsClient,
  createQueueWithDlq,
  type QueueWithDlq,
  startLocalSqs,
} from '../../local/aws/sqs.js';
import { type SqsPoller, startSqsPoller } from '../../local/aws/sqs-poller.js';
import type { LocalStateMachine } from '../../local/aws/step-functions.js';
import { startStepFunctionsEndpoint } from '../../local/aws/step-functions-endpoint.js';
import { createLocalPaymentSaga } from '../../local/saga.js';
import {
  auditDatabase,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../src/ops/invariants.js';
import { startSimulatedProvider } from '../../src/payments/simulated-provider.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const MAX_RECEIVE_COUNT = 3;
const VISIBILITY_TIMEOUT_SECONDS = 2;

/**
 * Everything the payment saga talks to, for real and on this machine: a PostgreSQL database of its
 * own, the simulated payment provider over HTTP, SQS (compensation queue + DLQ) and DynamoDB
 * (idempotency) stand-ins over their wire protocols, and the ASL file run by the local interpreter
 * with the real Lambda handler modules. The handlers configure themselves from the environment,
 * exactly as in AWS, so this sets the environment before any of them runs.
 */
export interface SagaEnvironment {
  readonly db: TestDatabase;
  readonly providerUrl: string;
  readonly sqs: SQSClient;
  readonly queue: QueueWithDlq;
  readonly saga: LocalStateMachine;
  /** The saga ports over the Step Functions wire protocol, as the API and the sweeper use them. */
  readonly stepFunctions: StepFunctionsSagaStarter;
  ledger(orderId?: string): Promise<(PaymentLedgerEntry & { idempotencyKey: string })[]>;
  setFaults(faults: { latencyMs?: number; errorRate?: number; voidFails?: boolean }): Promise<void>;
  clearFaults(): Promise<void>;
  /** Starts the compensation worker's event-source stand-in; stop it with `stopWorker`. */
  startWorker(): void;
  stopWorker(): Promise<void>;
  /** Database and payment invariants; an empty list means all hold. */
  violations(initialStock?: Record<string, number>): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function startSagaEnvironment(): Promise<SagaEnvironment> {
  const db = await createTestDatabase();
  const provider = await startSimulatedProvider({ port: 0 });
  const sqsServer = await startLocalSqs();
  const sqs = createLocalSqsClient(sqsServer.endpoint);
  const queue = await createQueueWithDlq(sqs, {
    name: 'checkout-compensations',
    maxReceiveCount: MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
  });
  const dynamo = await startLocalDynamoDb();
  await createIdempotencyTable(createLocalDynamoDbClient(dynamo.endpoint), 'checkout-idempotency');

  Object.assign(process.env, {
    DATABASE_URL: db.url,
    DB_POOL_MAX: '4',
    PAYMENT_PROVIDER_URL: provider.url,
    // A short client timeout keeps pm_auth_timeout quick; the breaker has its own tests and would
    // otherwise turn the deliberately failing scenarios' later calls into fast failures.
    PAYMENT_TIMEOUT_MS: '400',
    PAYMENT_BREAKER_FAILURE_THRESHOLD: '1000',
    IDEMPOTENCY_TABLE_NAME: 'checkout-idempotency',
    COMPENSATION_MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
    ...LOCAL_AWS_ENVIRONMENT,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });

  const saga = createLocalPaymentSaga({
    sqsClient: sqs,
    compensationQueueUrl: queue.queueUrl,
    retryIntervalScale: 0.001,
  });
  const sfnEndpoint = await startStepFunctionsEndpoint({ machine: saga });
  const sfn = new SFNClient({
    endpoint: sfnEndpoint.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  let poller: SqsPoller | undefined;

  const control = async (method: string, body?: unknown) => {
    const response = await fetch(`${provider.url}/control/faults`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw new Error(`provider control ${method} answered ${response.status}`);
  };

  const env: SagaEnvironment = {
    db,
    providerUrl: provider.url,
    sqs,
    queue,
    saga,
    stepFunctions: new StepFunctionsSagaStarter(sfn, saga.stateMachineArn),
    async ledger(orderId) {
      const response = await fetch(`${provider.url}/ledger${orderId ? `?orderId=${orderId}` : ''}`);
      const { entries } = (await response.json()) as {
        entries: (PaymentLedgerEntry & { idempotencyKey: string })[];
      };
      return entries;
    },
    setFaults: (faults) => control('POST', faults),
    clearFaults: () => control('DELETE'),
    startWorker() {
      // Imported lazily: the handler module reads its configuration from the environment set above.
      poller ??= startSqsPoller({
        client: sqs,
        queueUrl: queue.queueUrl,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
        functionName: 'checkout-compensation-worker',
        handler: async (event, context) => {
          const { handler } = await import('../../lambdas/workers/compensation-worker.js');
          return handler(event, context);
        },
      });
    },
    async stopWorker() {
      await poller?.stop();
      poller = undefined;
    },
    async violations(initialStock) {
      const reports = [
        ...(await auditDatabase(db.sql, initialStock ? { initialStock } : {})),
        ...(await auditPayments(db.sql, await env.ledger())),
      ];
      return violationsOf(reports);
    },
    async close() {
      await env.stopWorker();
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queue.queueUrl })).catch(() => {});
      sqs.destroy();
      sfn.destroy();
      await sfnEndpoint.close();
      await sqsServer.close();
      await dynamo.close();
      await provider.close();
      const { databasePool } = await import('../../src/runtime/database.js');
      await databasePool().end({ timeout: 5 });
      await db.drop();
    },
  };
  return env;
}
