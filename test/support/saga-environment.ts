import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, PurgeQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  auditDatabase,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../bench/lib/invariants.js';
import { paymentSagaTasks } from '../../lib/saga-tasks.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { LOCAL_AWS_ENVIRONMENT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { type LocalSecretsManager, startLocalSecretsManager } from '../../local/aws/secrets-manager.js';
import {
  createLocalSqsClient,
  createQueueWithDlq,
  type QueueWithDlq,
  startLocalSqs,
} from '../../local/aws/sqs.js';
import { type SqsPoller, startSqsPoller } from '../../local/aws/sqs-poller.js';
import type { LocalStateMachine, TaskHandler } from '../../local/aws/step-functions.js';
import { startStepFunctionsEndpoint } from '../../local/aws/step-functions-endpoint.js';
import {
  crashCarriedOut,
  type PlannedCrash,
  planProcessCrash,
  processCrashes,
} from '../../local/faults/process-crashes.js';
import { prepareLocalBuild, WORKER_BUNDLE } from '../../local/lambda/build.js';
import { type ContainerFaults, ContainerPool } from '../../local/lambda/containers.js';
import { startSimulatedProvider } from '../../local/payment-provider/server.js';
import { createLocalPaymentSaga, loadSagaTaskHandlers } from '../../local/saga.js';
import { OrderStore } from '../../src/db/orders.js';
import { endContainerPool } from '../../src/roots/database.js';
import type { SagaInput } from '../../src/saga/saga-starter.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { orderInput, seedProducts, seedWallet } from './fixtures.js';

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
  /** The provider's outcomes of one operation (`authorize`, `capture`, ...) for an order, in order. */
  outcomes(orderId: string, operation: string): Promise<string[]>;
  setFaults(faults: { latencyMs?: number; errorRate?: number; voidFails?: boolean }): Promise<void>;
  clearFaults(): Promise<void>;
  /** Starts the compensation worker's event-source stand-in; stop it with `stopWorker`. */
  startWorker(): void;
  stopWorker(): Promise<void>;
  /**
   * Makes the process of a container Task (see `containerTasks`) die right after this side effect
   * of this order succeeded, once.
   */
  planCrash(crash: PlannedCrash): void;
  /** Whether a container carried out the crash planned for this order and side effect. */
  crashCarriedOut(crash: Pick<PlannedCrash, 'orderId' | 'effect'>): boolean;
  /** The errors the container Tasks' invocations failed with, as the state machine saw them. */
  readonly taskFailures: readonly TaskFailure[];
  /**
   * Puts `interceptor` between the state machine and every in-process Task, or takes it away
   * (`undefined`). It gets the state's name, its input and `invoke`, which runs the real handler;
   * what it returns or throws is what the state sees. A test uses it to order an interleaving,
   * never to replace a step's logic.
   */
  interceptTasks(interceptor: TaskInterceptor | undefined): void;
  /**
   * Rotates the provider's key (see `SagaEnvironmentOptions.providerKey`): the provider requires the
   * new one at once and the secret holds it, while the handlers' caches still hold the old one.
   */
  rotateProviderKey(key: string): void;
  /** GetSecretValue calls the handlers made for the provider's key. */
  providerKeyReads(): number;
  /** Database and payment invariants; an empty list means all hold. */
  violations(initialStock?: Record<string, number>): Promise<unknown[]>;
  close(): Promise<void>;
}

export type TaskInterceptor = (
  state: string,
  input: unknown,
  invoke: () => Promise<unknown>,
) => Promise<unknown>;

/** A container Task's invocation that failed: the error name the state's Retry and Catch match. */
export interface TaskFailure {
  readonly state: string;
  readonly orderId: string | undefined;
  readonly errorType: string;
}

export interface SagaEnvironmentOptions {
  /**
   * Task states whose function runs in containers (child processes, local/lambda/containers.ts,
   * from the local build's bundles) as Lambda runs it, instead of in the test's process: a
   * container's process can die, and what the state machine then sees is what the runtime
   * reports. @default [] (every Task in this process)
   */
  readonly containerTasks?: readonly string[];
  /**
   * The provider requires this key on its payment routes, and the handlers read it from a Secrets
   * Manager stand-in (`PAYMENT_PROVIDER_SECRET_ARN`), as deployed. @default - no credential
   */
  readonly providerKey?: string;
}

/**
 * @param environment Variables to set on top of the defaults below, for the handlers of this
 * test file (each test file runs in a process of its own) and its container Tasks.
 */
export async function startSagaEnvironment(
  environment: Record<string, string> = {},
  options: SagaEnvironmentOptions = {},
): Promise<SagaEnvironment> {
  const db = await createTestDatabase();
  const provider = await startSimulatedProvider({
    port: 0,
    ...(options.providerKey ? { credential: { key: options.providerKey, scope: 'payments' as const } } : {}),
  });
  const secrets: LocalSecretsManager | undefined = options.providerKey
    ? await startLocalSecretsManager()
    : undefined;
  const providerSecretName = 'checkout-payment-provider-key';
  const secretVariables: Record<string, string> =
    secrets && options.providerKey
      ? {
          PAYMENT_PROVIDER_SECRET_ARN: secrets.putSecretValue(providerSecretName, options.providerKey),
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        }
      : {};
  const sqsServer = await startLocalSqs();
  const sqs = createLocalSqsClient(sqsServer.endpoint);
  const queue = await createQueueWithDlq(sqs, {
    name: 'checkout-compensations',
    maxReceiveCount: MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
  });
  const dynamo = await startLocalDynamoDb();
  await createIdempotencyTable(createLocalDynamoDbClient(dynamo.endpoint), 'checkout-idempotency');

  const variables: Record<string, string> = {
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
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    COMPENSATION_QUEUE_URL: queue.queueUrl,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...secretVariables,
    ...environment,
  };
  Object.assign(process.env, variables);

  const crashPlans = await mkdtemp(path.join(tmpdir(), 'checkout-crash-plans-'));
  const taskFailures: TaskFailure[] = [];
  const crashes = processCrashes(crashPlans);
  const containers = await startTaskContainers(options.containerTasks ?? [], variables, crashes);
  const taskHandlers: Record<string, TaskHandler> = {};
  let interceptor: TaskInterceptor | undefined;
  for (const [state, handler] of await loadSagaTaskHandlers()) {
    if (containers.has(state)) continue;
    const invoke = (input: unknown) =>
      handler(input as never, createLambdaContext({ functionName: `checkout-${state}` }));
    taskHandlers[state] = (input) =>
      interceptor ? interceptor(state, input, () => invoke(input)) : invoke(input);
  }
  for (const [state, pool] of containers) {
    taskHandlers[state] = (input) =>
      pool.invoke(input).catch((error: unknown) => {
        taskFailures.push({
          state,
          orderId: (input as { orderId?: string } | null)?.orderId,
          errorType: error instanceof Error ? error.name : String(error),
        });
        throw error;
      });
  }

  const saga = await createLocalPaymentSaga({
    taskHandlers,
    sqsClient: sqs,
    compensationQueueUrl: queue.queueUrl,
    retryIntervalScale: 0.001,
    // About 3 minutes of infrastructure retries become 1.8 s.
    infrastructureRetryScale: 0.01,
  });
  const sfnEndpoint = await startStepFunctionsEndpoint({ machine: saga });
  const sfn = new SFNClient({
    endpoint: sfnEndpoint.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  let poller: SqsPoller | undefined;

  const control = (method: string, body?: unknown) => controlProviderFaults(provider.url, method, body);

  const env: SagaEnvironment = {
    db,
    rotateProviderKey(key: string) {
      if (!secrets) throw new Error('start the environment with providerKey to rotate it');
      provider.rotateCredential(key);
      secrets.putSecretValue(providerSecretName, key);
    },
    providerKeyReads: () => secrets?.reads(providerSecretName) ?? 0,
    providerUrl: provider.url,
    sqs,
    queue,
    saga,
    stepFunctions: new StepFunctionsSagaStarter(sfn, saga.stateMachineArn),
    ledger: (orderId) => providerLedger(provider.url, orderId),
    async outcomes(orderId, operation) {
      return (await env.ledger(orderId)).filter((e) => e.operation === operation).map((e) => e.outcome);
    },
    setFaults: (faults) => control('POST', faults),
    planCrash: (crash) => planProcessCrash(crashPlans, crash),
    crashCarriedOut: (crash) => crashCarriedOut(crashPlans, crash),
    taskFailures,
    interceptTasks(next) {
      interceptor = next;
    },
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
      await Promise.all([...containers.values()].map((pool) => pool.close()));
      await crashes.close();
      await rm(crashPlans, { recursive: true, force: true });
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queue.queueUrl })).catch(() => {});
      sqs.destroy();
      sfn.destroy();
      await sfnEndpoint.close();
      await sqsServer.close();
      await dynamo.close();
      await provider.close();
      await secrets?.close();
      await endContainerPool();
      await db.drop();
    },
  };
  return env;
}

/** A pool of containers per Task state, each with the environment the in-process handlers get. */
async function startTaskContainers(
  states: readonly string[],
  variables: Readonly<Record<string, string>>,
  faults: ContainerFaults,
): Promise<Map<string, ContainerPool>> {
  const pools = new Map<string, ContainerPool>();
  if (states.length === 0) return pools;
  // Built once for the whole run by the global setup; this finds it in the cache.
  const { bundleDir } = await prepareLocalBuild({ progress: () => {} });
  const tasks = new Map(paymentSagaTasks().map((task) => [task.stateName, task]));
  for (const state of states) {
    const task = tasks.get(state);
    if (!task) throw new Error(`no Task state ${state} in the payment saga`);
    const functionName = `checkout-${state}`;
    pools.set(
      state,
      new ContainerPool({
        functionName,
        bundle: path.join(bundleDir, task.entry.replace(/\.ts$/, '.mjs')),
        handlerExport: 'handler',
        environment: { ...variables, AWS_LAMBDA_FUNCTION_NAME: functionName },
        execArgv: ['--enable-source-maps'],
        // The deployed function's is a few seconds longer; the Task's own timeout is what fires.
        timeoutSeconds: task.timeoutSeconds,
        maxContainers: 2,
        workerBundle: path.join(bundleDir, WORKER_BUNDLE),
        faults,
        log: () => {},
      }),
    );
  }
  return pools;
}

let scenario = 0;

/**
 * Places an order for 2 units of a fresh SKU (price 1000, `stock` on hand) for a fresh customer
 * with 5000 of store credit, and returns what the saga starts with.
 */
export async function placeSagaOrder(
  env: Pick<SagaEnvironment, 'db'>,
  paymentMethod: string,
  options: { storeCreditCents?: number; stock?: number } = {},
): Promise<SagaInput & { sku: string; customerId: string }> {
  scenario += 1;
  const sku = `SAGA-${process.pid}-${scenario}`;
  const customerId = `saga-customer-${process.pid}-${scenario}`;
  await seedProducts(env.db.sql, { [sku]: { onHand: options.stock ?? 20, priceCents: 1000 } });
  await seedWallet(env.db.sql, customerId, 5000);
  const input = orderInput({
    customerId,
    paymentMethod,
    storeCreditCents: options.storeCreditCents ?? 0,
    items: [{ sku, quantity: 2 }],
  });
  const placed = await new OrderStore(env.db.sql).placeOrder(input);
  if (placed.outcome !== 'PLACED') throw new Error(`order not placed: ${placed.outcome}`);
  return {
    orderId: input.orderId,
    correlationId: input.correlationId,
    chargeCents: placed.order.chargeCents,
    sku,
    customerId,
  };
}

/** The simulated provider's ledger (`GET /ledger`), of one order or of all. */
export async function providerLedger(
  providerUrl: string,
  orderId?: string,
): Promise<(PaymentLedgerEntry & { idempotencyKey: string })[]> {
  const response = await fetch(`${providerUrl}/ledger${orderId ? `?orderId=${orderId}` : ''}`);
  const { entries } = (await response.json()) as {
    entries: (PaymentLedgerEntry & { idempotencyKey: string })[];
  };
  return entries;
}

/** Sets (`POST`) or clears (`DELETE`) the simulated provider's injected faults. */
export async function controlProviderFaults(
  providerUrl: string,
  method: string,
  body?: unknown,
): Promise<void> {
  const response = await fetch(`${providerUrl}/control/faults`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`provider control ${method} answered ${response.status}`);
}

/** Polls `condition` every 200 ms until it holds, or fails after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

export async function dlqDepth(env: SagaEnvironment): Promise<number> {
  return depth(env, env.queue.dlqUrl);
}

export async function queueDepth(env: SagaEnvironment): Promise<number> {
  return depth(env, env.queue.queueUrl);
}

async function depth(env: SagaEnvironment, queueUrl: string): Promise<number> {
  const attributes = await env.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}
