import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_USAGE_PATH } from '../../local/api-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import type { UsageSnapshot } from '../../local/usage.js';
import { editedAssembly, environmentOf, revoke } from '../support/edited-assembly.js';
import {
  freeStackPorts,
  newDataDir,
  type StackPorts,
  type StackProcess,
  spawnStack,
} from '../support/local-stack-process.js';

/*
 * The local stack runs what the synthesized CDK app says. Each stack here runs a copy of that
 * assembly with one deliberate change per test, standing for a mistake in the CDK app: a variable
 * left out, a grant removed, a timeout or a concurrency set. `LOCAL_CDK_OUT` points the stack at
 * the copy.
 */

const customer = (id: string) => ({ Authorization: `Bearer dev-${id}` });
const admin = { Authorization: 'Bearer admin' };

async function checkout(stack: StackProcess, customerId: string, paymentMethod: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
    method: 'POST',
    headers: {
      ...customer(customerId),
      'Idempotency-Key': `${customerId}-1`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      items: [{ sku: 'SKU-1', quantity: 1 }],
      currency: 'USD',
      paymentMethod,
      storeCreditCents: 0,
    }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { orderId: string }).orderId;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function orderStatus(stack: StackProcess, orderId: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/v1/admin/orders/${orderId}`, { headers: admin });
  return ((await response.json()) as { status: string }).status;
}

const linesOf = (stack: StackProcess, pattern: RegExp) =>
  stack
    .output()
    .split('\n')
    .filter((line) => pattern.test(line));

describe('a template with mistakes in it: the local stack fails as AWS would', () => {
  let ports: StackPorts;
  let stack: StackProcess;

  beforeAll(async () => {
    const assembly = await editedAssembly((resource) => {
      // CDK "forgets" the compensation worker's table, and two grants.
      delete environmentOf(resource('Stateless/CompensationWorker/Handler/Function/Resource'))
        .IDEMPOTENCY_TABLE_NAME;
      revoke(resource('Stateless/PaymentSaga/StateMachine/Role/DefaultPolicy/Resource'), 'sqs:SendMessage');
      revoke(
        resource('Stateless/ApiHandlers/getOrder/ServiceRole/DefaultPolicy/Resource'),
        'dynamodb:UpdateItem',
      );
    });
    ports = await freeStackPorts();
    stack = await spawnStack({
      ports,
      dataDir: await newDataDir(),
      env: { LOCAL_CDK_OUT: assembly, CUSTOMER_REQUESTS_PER_MINUTE: '1000' },
    });
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  test('a handler reading a variable CDK does not set fails at its cold start, naming the variable', async () => {
    const sqs = new SQSClient({
      endpoint: `http://127.0.0.1:${ports.LOCAL_SQS_PORT}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'checkout-dev-compensations' }));

    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{}' }));

    const [failure] = await waitFor('the worker to fail', async () => {
      const lines = linesOf(stack, /checkout-CompensationWorker\] batch failed/);
      return lines.length > 0 ? lines : undefined;
    });
    expect(failure).toMatch(/ConfigurationError: .*IDEMPOTENCY_TABLE_NAME/);
    sqs.destroy();
  });

  test("a call the function's role is not granted fails with AccessDenied", async () => {
    const response = await fetch(`${stack.apiUrl}/v1/orders/00000000-0000-4000-8000-000000000000`, {
      headers: customer('denied'),
    });

    // The limiter fails open on an error (src/api/customer-limits.ts): the request is still served.
    expect(response.status).toBe(404);
    expect(linesOf(stack, /\[iam\] AccessDenied/).join('\n')).toMatch(
      /assumed-role\/ApiHandlersgetOrderServiceRole\w+\/checkout-getOrder is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table\/CustomerLimits-Table/,
    );
    // What the handler got is the SDK's AccessDeniedException, as from DynamoDB.
    const warning = await waitFor(
      'the handler to log the failure',
      async () => linesOf(stack, /customer limits not checked/)[0],
    );
    expect(warning).toContain('AccessDeniedException');
  });

  test("the state machine's role is enforced for its sqs:sendMessage integration", async () => {
    // A void that fails leaves a compensation to queue; the saga may not queue it.
    const orderId = await checkout(stack, 'sm-denied', 'pm_void_fails');

    await waitFor('REQUIRES_ATTENTION', async () =>
      (await orderStatus(stack, orderId)) === 'REQUIRES_ATTENTION' ? true : undefined,
    );
    expect(linesOf(stack, /\[iam\] AccessDenied/).join('\n')).toMatch(
      /assumed-role\/PaymentSagaStateMachineRole\w+\/\S+ is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:checkout-dev-compensations/,
    );
  });
});

describe("the template's settings: concurrency, timeouts, the DLQ's maxReceiveCount", () => {
  let ports: StackPorts;
  let stack: StackProcess;

  beforeAll(async () => {
    const assembly = await editedAssembly((resource) => {
      resource('Stateless/ApiHandlers/getProduct/Function/Resource').Properties.ReservedConcurrentExecutions =
        1;
      resource('Stateless/PaymentSaga/ReversePayment/Function/Resource').Properties.Timeout = 1;
      // CDK sets both from one value (lib/constructs/compensation-queue.ts): the copy keeps them equal.
      const queue = resource('Stateful/CompensationQueue/Queue/Resource');
      (queue.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount = 2;
      environmentOf(
        resource('Stateless/CompensationWorker/Handler/Function/Resource'),
      ).COMPENSATION_MAX_RECEIVE_COUNT = '2';
    });
    ports = await freeStackPorts();
    stack = await spawnStack({ ports, dataDir: await newDataDir(), env: { LOCAL_CDK_OUT: assembly } });
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  async function usage(): Promise<UsageSnapshot> {
    return (await (await fetch(`${stack.apiUrl}${LOCAL_USAGE_PATH}`)).json()) as UsageSnapshot;
  }

  const concurrently = (route: string, times: number) =>
    Promise.all(Array.from({ length: times }, () => fetch(`${stack.apiUrl}${route}`, { headers: admin })));

  test('a function with reserved concurrency 1 serialises its invocations in one container', async () => {
    const responses = await concurrently('/v1/admin/products/SKU-1', 8);
    const unreserved = await concurrently('/v1/admin/wallets/alice', 8);

    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    expect(unreserved.map((response) => response.status)).toEqual(Array(8).fill(200));
    const { lambda } = await usage();
    expect(lambda['checkout-getProduct']).toMatchObject({ invocations: 8, coldStarts: 1 });
    expect(linesOf(stack, /\[lambda checkout-getProduct\] INIT_REPORT/)).toHaveLength(1);
    // Without a reservation the same burst starts more containers (up to the local cap).
    expect(lambda['checkout-getWallet']?.coldStarts).toBeGreaterThan(1);
  });

  test("a step given less time than its records need does not call the provider, and the saga's Retry runs it again", async () => {
    // Each provider call would take 1.5 s. ReversePayment's template timeout is 1 s, less than the
    // time it keeps for its records after a provider call (its budget line, docs/adr/0020): the
    // template's timeout reaches the handler, which fails the call unsent instead of hanging into
    // its Lambda timeout. (Cutting a handler that does hang: test/local/containers.test.ts.)
    await fetch(`${stack.providerUrl}/control/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ latencyMs: 1500 }),
    });

    try {
      const orderId = await checkout(stack, 'hanging', 'pm_capture_fails');

      // ReversePayment retries States.ALL 3 times: 4 attempts, none sent to the provider.
      const unsent = await waitFor('four unsent attempts', async () => {
        const lines = linesOf(
          stack,
          /"saga step failed".*"function_name":"checkout-ReversePayment".*not sent, \d+ ms left of the invocation/,
        );
        return lines.length >= 4 ? lines : undefined;
      });
      expect(unsent).toHaveLength(4);
      expect(linesOf(stack, /\[lambda checkout-ReversePayment\] \S+ Task timed out/)).toEqual([]);
      // After the Retry gave up, the compensation path took over: nothing stays in flight.
      await waitFor('the order to settle', async () =>
        ['CANCELLED', 'REQUIRES_ATTENTION'].includes(await orderStatus(stack, orderId)) ? true : undefined,
      );
    } finally {
      await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });
    }
  });

  test("the template's maxReceiveCount moves a failing compensation to the DLQ after that many receives", async () => {
    const orderId = await checkout(stack, 'dlq', 'pm_void_fails');

    const compensation = await waitFor(
      'the compensation to fail',
      async () => {
        const response = await fetch(`${stack.apiUrl}/v1/admin/compensations`, { headers: admin });
        const { items } = (await response.json()) as {
          items: { orderId: string; status: string; attempts: number }[];
        };
        const item = items.find((candidate) => candidate.orderId === orderId);
        return item?.status === 'FAILED' ? item : undefined;
      },
      40_000,
    );

    expect(compensation.attempts).toBe(2);
    const sqs = new SQSClient({
      endpoint: `http://127.0.0.1:${ports.LOCAL_SQS_PORT}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: 'CompensationQueue-DeadLetterQueue' }),
    );
    const inDlq = await waitFor('the message in the DLQ', async () => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      const count = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
      return count > 0 ? count : undefined;
    });
    sqs.destroy();
    expect(inDlq).toBeGreaterThanOrEqual(1);
  });
});
