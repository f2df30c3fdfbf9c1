import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExecutionDoesNotExist, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createCheckoutHandler } from '../../lambdas/api/checkout.js';
import { createIdempotencyTable, createLocalDynamoDbClient, createTable } from '../../local/aws/dynamodb.js';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { LOCAL_AWS_ENVIRONMENT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { createQueueWithDlq, type QueueWithDlq } from '../../local/aws/sqs.js';
import { type SqsPoller, startSqsPoller } from '../../local/aws/sqs-poller.js';
import {
  type LocalStepFunctionsEndpoint,
  startStepFunctionsEndpoint,
} from '../../local/aws/step-functions-endpoint.js';
import { crashCarriedOut, planProcessCrash, processCrashes } from '../../local/faults/process-crashes.js';
import { prepareLocalBuild, WORKER_BUNDLE } from '../../local/lambda/build.js';
import { ContainerPool } from '../../local/lambda/containers.js';
import { OPERATOR_CONTROLS_KEY, OPERATOR_CONTROLS_SORT_KEY } from '../../src/api/checkout-switch.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import { createCheckoutIdempotency } from '../../src/api/idempotency.js';
import { orderIdFor } from '../../src/checkout/place-order.js';
import { OrderStore } from '../../src/db/orders.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import { APPLICATION_ROLE, urlForRole } from '../../src/db/roles.js';
import { type SweeperDependencies, sweepStuckOrders } from '../../src/ops/sweeper.js';
import { containerPaymentSaga } from '../../src/roots/saga.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { SqsSagaStartQueue } from '../../src/saga/saga-start-queue.js';
import { createSagaStartWorker } from '../../src/saga/saga-start-worker.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';
import { quietMetrics } from '../api/support/environment.js';
import { apiEvent } from '../api/support/events.js';
import { RecordingCheckoutMetrics } from '../api/support/fakes.js';
import { APPLICATION_ROLE_TEST_PASSWORD } from '../support/database.js';
import { seedProducts } from '../support/fixtures.js';
import { type SagaEnvironment, startSagaEnvironment, waitFor } from '../support/saga-environment.js';

/**
 * docs/adr/0019 on real components: PostgreSQL, the real ASL on the local interpreter, the local
 * SQS, DynamoDB and Step Functions endpoints spoken to by the real SDK clients, the real checkout
 * handler and the real saga-starter handler (in this process, or in containers whose process can
 * die). StartExecution is made to fail by a second endpoint on the same state machine whose quota
 * is spent (a throttle, answered as AWS does), or by an endpoint that is not there.
 */
const TABLE = 'checkout-idempotency';
/** The operators' switches, as the checkout function reads them (docs/adr/0024): none set, so on. */
const CONTROLS_TABLE = 'checkout-operator-controls';
const SKU = 'START-1';
/** The queue's own visibility timeout: far longer than any hand-back, so a test can tell them apart. */
const QUEUE_VISIBILITY_SECONDS = 30;
/** How soon a message whose starter died is seen again (the local stand-in for six times the timeout). */
const RETRY_VISIBILITY_SECONDS = 2;

describe('saga starts that cannot be made at once', () => {
  let env: SagaEnvironment;
  let startQueue: QueueWithDlq;
  let open: LocalStepFunctionsEndpoint;
  let throttled: LocalStepFunctionsEndpoint;
  const clients: { destroy(): void }[] = [];
  const pollers: SqsPoller[] = [];
  const pools: ContainerPool[] = [];
  const interposers: { close(): Promise<void> }[] = [];
  let orders: OrderStore;
  let applicationUrl: string;
  let scenario = 0;

  beforeAll(async () => {
    env = await startSagaEnvironment();
    orders = new OrderStore(env.db.sql);
    startQueue = await createQueueWithDlq(env.sqs, {
      name: 'checkout-saga-starts',
      maxReceiveCount: 20,
      visibilityTimeoutSeconds: QUEUE_VISIBILITY_SECONDS,
    });
    open = await startStepFunctionsEndpoint({ machine: env.saga });
    // A quota spent at once and refilled only after ~17 minutes: every start here is throttled.
    throttled = await startStepFunctionsEndpoint({
      machine: env.saga,
      startExecutionQuota: { ratePerSecond: 0.001, burst: 1 },
    });
    await sfnClient(throttled.endpoint)
      .send(
        new StartExecutionCommand({ stateMachineArn: `${env.saga.stateMachineArn}-spent`, name: 'spent' }),
      )
      .catch(() => {});
    await createIdempotencyTable(dynamo(), TABLE).catch(() => {});
    await createTable(
      dynamo(),
      CONTROLS_TABLE,
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, KeyType: 'HASH' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, KeyType: 'RANGE' },
      ],
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, AttributeType: 'S' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, AttributeType: 'S' },
      ],
    ).catch(() => {});
    await env.db.applicationSql();
    applicationUrl = urlForRole(env.db.url, APPLICATION_ROLE, APPLICATION_ROLE_TEST_PASSWORD);
    // What the saga-starter handler reads (src/config/functions.ts), as its function gets it.
    Object.assign(process.env, starterEnvironment());
  });
  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
    await Promise.all(interposers.splice(0).map((interposer) => interposer.close()));
    expect(await env.violations()).toEqual([]);
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await throttled?.close();
    await open?.close();
    await env?.close();
  });

  function sfnClient(endpoint: string): SFNClient {
    const client = new SFNClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  }

  function sqsClient(endpoint = process.env.AWS_ENDPOINT_URL_SQS as string): SQSClient {
    const client = new SQSClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  }

  function dynamo() {
    const client = createLocalDynamoDbClient(process.env.AWS_ENDPOINT_URL_DYNAMODB as string);
    clients.push(client);
    return client;
  }

  function starterEnvironment(): Record<string, string> {
    return {
      DATABASE_URL: applicationUrl,
      STATE_MACHINE_ARN: `${env.saga.stateMachineArn}:live`,
      SAGA_START_QUEUE_URL: startQueue.queueUrl,
      SAGA_START_TIMEOUT_MS: '1000',
      SAGA_STARTS_PER_SECOND: '50',
      AWS_ENDPOINT_URL_SFN: open.endpoint,
    };
  }

  /** The checkout handler with StartExecution through `sfnEndpoint` and the queue at `queueEndpoint`. */
  function checkoutThrough(sfnEndpoint: string, queueEndpoint?: string): ApiGatewayHandler {
    return createCheckoutHandler(
      {
        orders,
        sagaStarter: new StepFunctionsSagaStarter(sfnClient(sfnEndpoint), `${env.saga.stateMachineArn}:live`),
        sagaStartBuffer: new SqsSagaStartQueue(
          sqsClient(queueEndpoint),
          queueEndpoint ? `${queueEndpoint}/123456789012/nowhere` : startQueue.queueUrl,
        ),
        idempotency: createCheckoutIdempotency({ client: dynamo(), tableName: TABLE }),
      },
      { metrics: quietMetrics(), checkoutMetrics: new RecordingCheckoutMetrics() },
    );
  }

  function checkoutEvent(customerId: string, key: string) {
    return apiEvent({
      method: 'POST',
      resource: '/v1/checkout',
      customerId,
      headers: { 'Idempotency-Key': key },
      body: {
        items: [{ sku: SKU, quantity: 1 }],
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        storeCreditCents: 0,
      },
    });
  }

  async function checkout(handler: ApiGatewayHandler, customerId: string, key: string) {
    const result = await handler(
      checkoutEvent(customerId, key),
      createLambdaContext({ functionName: 'checkout-placeOrder', timeoutMs: 10_000 }),
    );
    return {
      status: result.statusCode,
      body: result.body,
      headers: (result.headers ?? {}) as Record<string, string>,
    };
  }

  async function newCustomer() {
    scenario += 1;
    await seedProducts(env.db.sql, { [SKU]: { onHand: 1000, priceCents: 700 } });
    const customerId = `start-${process.pid}-${scenario}`;
    const key = randomUUID();
    return { customerId, key, orderId: orderIdFor(customerId, key) };
  }

  /** The real saga-starter handler behind the queue, in this process. */
  function startStarter(): void {
    pollers.push(
      startSqsPoller({
        client: sqsClient(),
        queueUrl: startQueue.queueUrl,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: RETRY_VISIBILITY_SECONDS,
        functionName: 'checkout-SagaStarter',
        handler: async (event, context) => {
          const { handler } = await import('../../lambdas/workers/saga-starter.js');
          return handler(event, context);
        },
        onError: () => {},
      }),
    );
  }

  /** The emulator's crash injection for containers, planned in `folder`. */
  function crashes(folder: string) {
    const interposer = processCrashes(folder);
    interposers.push(interposer);
    return interposer;
  }

  /** A function's containers, from the local build's bundle, with planned crashes. */
  async function containers(entry: string, environment: Record<string, string>, crashPlans: string) {
    const { bundleDir } = await prepareLocalBuild({ progress: () => {} });
    const pool = new ContainerPool({
      functionName: `checkout-${path.basename(entry, '.ts')}`,
      bundle: path.join(bundleDir, entry.replace(/\.ts$/, '.mjs')),
      handlerExport: 'handler',
      environment: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...LOCAL_AWS_ENVIRONMENT,
        POWERTOOLS_LOG_LEVEL: 'CRITICAL',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_TRACE_ENABLED: 'false',
        AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB as string,
        AWS_ENDPOINT_URL_SQS: process.env.AWS_ENDPOINT_URL_SQS as string,
        ...environment,
      },
      execArgv: ['--enable-source-maps'],
      timeoutSeconds: 5,
      maxContainers: 1,
      workerBundle: path.join(bundleDir, WORKER_BUNDLE),
      faults: crashes(crashPlans),
      log: () => {},
    });
    pools.push(pool);
    return pool;
  }

  function sweeper(): SweeperDependencies {
    const stepFunctions = new StepFunctionsSagaStarter(sfnClient(open.endpoint), env.saga.stateMachineArn);
    return {
      recovery: new RecoveryStore(env.db.sql),
      orders,
      saga: containerPaymentSaga(),
      starter: stepFunctions,
      inspector: stepFunctions,
      compensationQueue: new SqsCompensationQueue(env.sqs, env.queue.queueUrl),
    };
  }

  async function status(orderId: string) {
    return (await orders.getOrder(orderId))?.status;
  }

  function executionOf(orderId: string) {
    try {
      return env.saga.describe(orderId);
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return undefined;
      throw error;
    }
  }

  async function authorizationsOf(orderId: string) {
    return (await env.ledger(orderId)).filter((entry) => entry.operation === 'authorize');
  }

  /** Messages in a queue, visible or in flight (read without receiving: a receive would count). */
  async function depth(queueUrl: string) {
    const { Attributes = {} } = await env.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  test.each([
    ['throttled', () => throttled.endpoint],
    ['unreachable', () => 'http://127.0.0.1:1'],
  ])('StartExecution %s: 202, the start waits on the queue, the same key replays the 202, and the starter runs the saga once', async (_, endpoint) => {
    const { customerId, key, orderId } = await newCustomer();
    const handler = checkoutThrough(endpoint());

    const accepted = await checkout(handler, customerId, key);
    const queuedBeforeTheStarter = executionOf(orderId);
    const replayed = await checkout(handler, customerId, key);
    startStarter();
    await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);

    expect(accepted.status).toBe(202);
    expect(JSON.parse(accepted.body)).toMatchObject({ orderId, status: 'PENDING' });
    expect(queuedBeforeTheStarter).toBeUndefined();
    expect(replayed.status).toBe(202);
    expect(replayed.body).toBe(accepted.body);
    expect(replayed.headers['Idempotent-Replayed']).toBe('true');
    expect(executionOf(orderId)?.status).toBe('SUCCEEDED');
    expect(await authorizationsOf(orderId)).toHaveLength(1);
    await waitFor(async () => (await depth(startQueue.queueUrl)) === 0, 10_000);
  });

  test('neither StartExecution nor the queue can be reached: still 202, nothing queued, and the sweeper starts the saga', async () => {
    const { customerId, key, orderId } = await newCustomer();
    const handler = checkoutThrough(throttled.endpoint, 'http://127.0.0.1:1');

    const accepted = await checkout(handler, customerId, key);
    const queued = await depth(startQueue.queueUrl);
    const report = await sweepStuckOrders(sweeper(), { stuckAfterSeconds: 0 });
    await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);

    expect(accepted.status).toBe(202);
    expect(queued).toBe(0);
    expect(report).toMatchObject({ started: 1, compensated: 0 });
    expect(await authorizationsOf(orderId)).toHaveLength(1);
  });

  test('the checkout process dies right after the commit: the sweeper starts the saga, and the retry with the same key gets its 202 without a second execution', async () => {
    const { customerId, key, orderId } = await newCustomer();
    const crashPlans = await mkdtemp(path.join(tmpdir(), 'checkout-crash-plans-'));
    planProcessCrash(crashPlans, { orderId, effect: 'placeOrder', kind: 'exit' });
    const pool = await containers(
      'lambdas/api/checkout.ts',
      {
        DATABASE_URL: applicationUrl,
        IDEMPOTENCY_TABLE_NAME: TABLE,
        OPERATOR_CONTROLS_TABLE_NAME: CONTROLS_TABLE,
        STATE_MACHINE_ARN: `${env.saga.stateMachineArn}:live`,
        SAGA_START_QUEUE_URL: startQueue.queueUrl,
        SAGA_START_TIMEOUT_MS: '1000',
        AWS_ENDPOINT_URL_SFN: open.endpoint,
      },
      crashPlans,
    );

    const died = await pool.invoke(checkoutEvent(customerId, key)).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const afterTheCrash = { status: await status(orderId), execution: executionOf(orderId) };
    const queued = await depth(startQueue.queueUrl);
    const report = await sweepStuckOrders(sweeper(), { stuckAfterSeconds: 0 });
    // The client retries until its first attempt's in-progress record has run out (the crashed
    // invocation's remaining time), then gets the committed order's 202.
    let retried = { statusCode: 0, body: '' };
    await waitFor(async () => {
      retried = (await pool.invoke(checkoutEvent(customerId, key))) as typeof retried;
      return retried.statusCode !== 409;
    }, 20_000);
    await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);

    expect(crashCarriedOut(crashPlans, { orderId, effect: 'placeOrder' })).toBe(true);
    expect(died?.name).toBe('Runtime.ExitError');
    expect(afterTheCrash).toEqual({ status: 'PENDING', execution: undefined });
    expect(queued).toBe(0);
    expect(report).toMatchObject({ started: 1 });
    expect(retried.statusCode).toBe(202);
    expect(JSON.parse(retried.body)).toMatchObject({ orderId });
    expect(await authorizationsOf(orderId)).toHaveLength(1);
    expect(await depth(startQueue.queueUrl)).toBe(0);
  });

  test('the starter dies after StartExecution, before its message is deleted: the message comes back, finds the execution, and nothing is started twice or lost', async () => {
    const { customerId, key, orderId } = await newCustomer();
    const crashPlans = await mkdtemp(path.join(tmpdir(), 'checkout-crash-plans-'));
    planProcessCrash(crashPlans, { orderId, effect: 'startExecution', kind: 'exit' });
    const pool = await containers('lambdas/workers/saga-starter.ts', starterEnvironment(), crashPlans);
    const failedBatches: Error[] = [];

    const accepted = await checkout(checkoutThrough(throttled.endpoint), customerId, key);
    pollers.push(
      startSqsPoller({
        client: sqsClient(),
        queueUrl: startQueue.queueUrl,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: RETRY_VISIBILITY_SECONDS,
        handler: (event) => pool.invoke(event),
        onError: (error) => failedBatches.push(error as Error),
      }),
    );
    await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);
    await waitFor(async () => (await depth(startQueue.queueUrl)) === 0, 20_000);

    expect(accepted.status).toBe(202);
    expect(crashCarriedOut(crashPlans, { orderId, effect: 'startExecution' })).toBe(true);
    expect(failedBatches.map((error) => error.name)).toContain('Runtime.ExitError');
    expect(executionOf(orderId)?.status).toBe('SUCCEEDED');
    expect(await authorizationsOf(orderId)).toHaveLength(1);
    expect(await depth(startQueue.dlqUrl)).toBe(0);
  });

  test('a queued start of an order that is no longer PENDING (the sweeper cancelled it) starts nothing', async () => {
    const { customerId, key, orderId } = await newCustomer();
    await checkout(checkoutThrough(throttled.endpoint), customerId, key);
    // Its reservation ran out before the start could be made: the sweeper cancels it.
    await env.db
      .sql`update reservations set expires_at = now() - interval '1 minute' where order_id = ${orderId}`;
    const report = await sweepStuckOrders(sweeper(), { stuckAfterSeconds: 0 });

    // The message arrives after the sweeper is done with the order and its lease has run out.
    await env.db.sql`update orders set recovery_lease_until = null where id = ${orderId}`;

    startStarter();
    await waitFor(async () => (await depth(startQueue.queueUrl)) === 0, 10_000);

    expect(report).toMatchObject({ compensated: 1 });
    expect(await orders.getOrder(orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'RESERVATION_EXPIRED',
    });
    expect(executionOf(orderId)).toBeUndefined();
    expect(await env.ledger(orderId)).toEqual([]);
  });

  describe('the start lease the starter shares with the sweeper', () => {
    const recovery = () => new RecoveryStore(env.db.sql);

    /** One invocation of the starter use case on what the queue hands out now. */
    async function invokeStarter(remainingMs: number, startsPerSecond = 50) {
      const { Messages = [] } = await env.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: startQueue.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          // The queue's own visibility timeout (30 s): only a hand-back shows a message sooner.
          AttributeNames: ['All'],
        }),
      );
      const event: SQSEvent = {
        Records: Messages.map((message) => ({
          messageId: message.MessageId as string,
          receiptHandle: message.ReceiptHandle as string,
          body: message.Body as string,
          attributes: {
            ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
            SentTimestamp: '',
            SenderId: '',
            ApproximateFirstReceiveTimestamp: '',
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:checkout-saga-starts',
          awsRegion: LOCAL_REGION,
        })),
      };
      const queue = new SqsSagaStartQueue(sqsClient(), startQueue.queueUrl);
      const worker = createSagaStartWorker({
        starter: new StepFunctionsSagaStarter(sfnClient(open.endpoint), env.saga.stateMachineArn),
        claims: new RecoveryStore(env.db.sql),
        visibility: queue,
        startsPerSecond,
      });
      const context = createLambdaContext({
        functionName: 'checkout-SagaStarter',
        timeoutMs: remainingMs,
      }) as Context;
      const response = await worker(event, context);
      // What the event source mapping does with the answer: delete what did not fail.
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      for (const message of Messages.filter((m) => !failed.has(m.MessageId as string))) {
        await env.sqs.send(
          new DeleteMessageCommand({ QueueUrl: startQueue.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
      return { received: Messages.length, response };
    }

    /**
     * The next message the queue hands out, to one invocation. Polled: a receive of a poller an
     * earlier test stopped may still hold a message hidden for a moment.
     */
    async function invokeStarterOnNextMessage(remainingMs: number) {
      let invoked = await invokeStarter(remainingMs);
      await waitFor(async () => {
        if (invoked.received === 0) invoked = await invokeStarter(remainingMs);
        return invoked.received > 0;
      }, 10_000);
      return invoked;
    }

    test('while the sweeper holds the order, the starter starts nothing and hands the message back within seconds', async () => {
      const { customerId, key, orderId } = await newCustomer();
      await checkout(checkoutThrough(throttled.endpoint), customerId, key);
      const [claimed] = await recovery().claimStuckOrders({
        stuckAfterSeconds: 0,
        limit: 100,
        leaseSeconds: 60,
      });

      const first = await invokeStarterOnNextMessage(3_000);
      const noExecutionWhileLeased = executionOf(orderId);
      await env.db.sql`update orders set recovery_lease_until = null where id = ${orderId}`;
      // Seen again within seconds, long before the queue's own 30 s visibility timeout.
      const again = await invokeStarterOnNextMessage(5_000);

      expect(claimed?.id).toBe(orderId);
      expect(first).toMatchObject({ received: 1, response: { batchItemFailures: [expect.anything()] } });
      expect(noExecutionWhileLeased).toBeUndefined();
      expect(again.response.batchItemFailures).toEqual([]);
      expect(executionOf(orderId)).toBeDefined();
      await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);
      expect(await depth(startQueue.queueUrl)).toBe(0);
    });

    test('one starter container keeps to its pace: starts of one batch are at least 1 / startsPerSecond apart', async () => {
      const placed = [await newCustomer(), await newCustomer(), await newCustomer()];
      for (const { customerId, key } of placed)
        await checkout(checkoutThrough(throttled.endpoint), customerId, key);
      await waitFor(async () => (await depth(startQueue.queueUrl)) === 3, 10_000);

      let started = 0;
      await waitFor(async () => {
        started += (await invokeStarter(10_000, 2)).received;
        return started === 3;
      }, 20_000);

      const [first = 0, second = 0, third = 0] = placed
        .map(({ orderId }) => executionOf(orderId)?.startDate.getTime() ?? Number.NaN)
        .sort((a, b) => a - b);
      // 2 a second: 500 ms apart, less what the request's way to the endpoint may shave off.
      expect(second - first).toBeGreaterThanOrEqual(400);
      expect(third - second).toBeGreaterThanOrEqual(400);
      for (const { orderId } of placed)
        await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);
    });

    test('while a starter holds the order, the sweeper does not claim it', async () => {
      const { customerId, key, orderId } = await newCustomer();
      await checkout(checkoutThrough(throttled.endpoint), customerId, key);

      const claim = await recovery().claimStart(orderId, 60);
      const swept = await recovery().claimStuckOrders({ stuckAfterSeconds: 0, limit: 100, leaseSeconds: 60 });
      const second = await recovery().claimStart(orderId, 60);
      if (claim.outcome === 'CLAIMED') await recovery().releaseStart(orderId, claim.leaseUntil);
      const afterRelease = await recovery().claimStart(orderId, 60);
      if (afterRelease.outcome === 'CLAIMED') await recovery().releaseStart(orderId, afterRelease.leaseUntil);

      expect(claim.outcome).toBe('CLAIMED');
      expect(swept.map((order) => order.id)).not.toContain(orderId);
      expect(second).toEqual({ outcome: 'LEASED' });
      expect(afterRelease.outcome).toBe('CLAIMED');
      // Leave nothing behind for the other tests: start it and let it settle.
      startStarter();
      await waitFor(async () => (await status(orderId)) === 'CONFIRMED', 20_000);
    });
  });

  test('a sweep whose saga starts are refused leaves those orders for the next sweep instead of failing', async () => {
    const first = await newCustomer();
    const second = await newCustomer();
    const handler = checkoutThrough(throttled.endpoint, 'http://127.0.0.1:1');
    await checkout(handler, first.customerId, first.key);
    await checkout(handler, second.customerId, second.key);
    const refusing = new StepFunctionsSagaStarter(sfnClient(throttled.endpoint), env.saga.stateMachineArn);

    const refused = await sweepStuckOrders(
      { ...sweeper(), starter: refusing },
      { stuckAfterSeconds: 0, leaseSeconds: 1 },
    );
    await env.db
      .sql`update orders set recovery_lease_until = null where id in (${first.orderId}, ${second.orderId})`;
    const recovered = await sweepStuckOrders(sweeper(), { stuckAfterSeconds: 0 });
    await waitFor(
      async () =>
        (await status(first.orderId)) === 'CONFIRMED' && (await status(second.orderId)) === 'CONFIRMED',
      20_000,
    );

    expect(refused).toMatchObject({ claimed: 2, started: 0, startDeferred: 2 });
    expect(recovered).toMatchObject({ started: 2 });
  });
});
