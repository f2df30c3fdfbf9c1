import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { createTable } from '../../local/aws/dynamodb.js';
import { closeServer, listen } from '../../local/aws/http-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { type SimulatedProvider, startSimulatedProvider } from '../../local/payment-provider/server.js';

/**
 * src/runtime/tracing.ts inside Lambda: the environment Lambda sets (read when the module loads,
 * hence a file of its own), an X-Ray daemon this test is (UDP, the daemon's wire protocol), real
 * SDK calls to dynalite and real `fetch` calls to the simulated provider.
 */

type Document = Record<string, unknown> & { id: string; name: string };

const ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const FUNCTION_SEGMENT = '53995c3f42cd8ad8';
const sampledHeader = (root = ROOT, parent = FUNCTION_SEGMENT) =>
  `Root=${root};Parent=${parent};Sampled=1;Lineage=a87bd80c:1`;

describe('tracing in Lambda', () => {
  let daemon: Socket;
  const datagrams: string[] = [];
  let dynamo: Server;
  const dynamoHeaders: IncomingHttpHeaders[] = [];
  let client: DynamoDBClient;
  let provider: SimulatedProvider;
  let tracing: typeof import('../../src/runtime/tracing.js');

  const documents = () =>
    datagrams.map((datagram) => JSON.parse(datagram.split('\n')[1] ?? 'null') as Document);
  const named = (name: string) => documents().filter((document) => document.name === name);
  /** Waits until `count` documents have arrived. */
  const received = (count: number) =>
    vi.waitFor(() => expect(datagrams.length).toBeGreaterThanOrEqual(count), { timeout: 5_000 });

  beforeAll(async () => {
    daemon = createSocket('udp4');
    daemon.on('message', (message) => datagrams.push(message.toString()));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    dynamo = dynalite({ createTableMs: 0 });
    dynamo.on('request', (request) => dynamoHeaders.push(request.headers));
    await listen(dynamo, 0, '127.0.0.1');
    client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await createTable(
      client,
      'orders',
      [{ AttributeName: 'id', KeyType: 'HASH' }],
      [{ AttributeName: 'id', AttributeType: 'S' }],
    );
    provider = await startSimulatedProvider({ port: 0 });

    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'checkout-test',
      POWERTOOLS_TRACE_ENABLED: 'true',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    });
    tracing = await import('../../src/runtime/tracing.js');
    tracing.tracedClient(client);
  });

  afterAll(async () => {
    client?.destroy();
    await provider?.close();
    if (dynamo) await closeServer(dynamo);
    daemon?.close();
  });

  beforeEach(() => {
    process.env._X_AMZN_TRACE_ID = sampledHeader();
    tracing.clearAnnotations();
    datagrams.length = 0;
    dynamoHeaders.length = 0;
  });

  const store = {
    async placeOrder(id: string) {
      return { id };
    },
    async fail() {
      throw new TypeError('database down');
    },
    breakerState() {
      return 'closed';
    },
  };

  test('each store call is an annotated subsegment of the function segment; results and errors pass through', async () => {
    const traced = tracing.tracedMethods(store, 'Store');
    tracing.annotate({ orderId: 'o-1', correlationId: 'c-1' });

    const placed = await traced.placeOrder('o-1');
    const failure = await traced.fail().catch((error: unknown) => error);
    const state = traced.breakerState();
    await received(3);

    expect(placed).toEqual({ id: 'o-1' });
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as Error).message).toBe('database down');
    expect(state).toBe('closed');
    expect(datagrams.every((datagram) => datagram.startsWith('{"format":"json","version":1}\n'))).toBe(true);
    const [placeOrder] = named('Store.placeOrder');
    expect(placeOrder).toEqual({
      type: 'subsegment',
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      trace_id: ROOT,
      parent_id: FUNCTION_SEGMENT,
      name: 'Store.placeOrder',
      start_time: expect.any(Number),
      end_time: expect.any(Number),
      annotations: { orderId: 'o-1', correlationId: 'c-1' },
    });
    const { start_time, end_time } = placeOrder as unknown as { start_time: number; end_time: number };
    expect(Math.abs(start_time - Date.now() / 1000)).toBeLessThan(60);
    expect(end_time).toBeGreaterThanOrEqual(start_time);
    expect(named('Store.fail')[0]).toMatchObject({
      fault: true,
      cause: {
        working_directory: process.cwd(),
        exceptions: [{ type: 'TypeError', message: 'database down', remote: false }],
      },
    });
    const [frame] =
      (named('Store.fail')[0]?.cause as { exceptions: { stack: object[] }[] }).exceptions[0]?.stack ?? [];
    expect(frame).toMatchObject({
      path: expect.stringContaining('tracing-lambda.test.ts'),
      line: expect.any(Number),
    });
    expect(named('Store.breakerState')[0]).not.toHaveProperty('fault');
  });

  test('an SDK call is an aws subsegment, and its request carries the trace header with that subsegment as parent', async () => {
    tracing.annotate({ orderId: 'o-2' });

    const output = await client.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: 'o-2' } } }));
    await received(1);

    const [call] = named('DynamoDB');
    expect(call).toMatchObject({
      type: 'subsegment',
      trace_id: ROOT,
      parent_id: FUNCTION_SEGMENT,
      namespace: 'aws',
      annotations: { orderId: 'o-2' },
      aws: {
        operation: 'PutItem',
        region: LOCAL_REGION,
        table_name: 'orders',
        retries: 0,
        request_id: output.$metadata.requestId,
      },
      http: { response: { status: 200 } },
    });
    expect(call).not.toHaveProperty('fault');
    expect(dynamoHeaders.map((headers) => headers['x-amzn-trace-id'])).toEqual([
      `Root=${ROOT};Parent=${call?.id};Sampled=1;Lineage=a87bd80c:1`,
    ]);
  });

  test('an SDK call the service refuses is an error subsegment with its cause, and the SDK error reaches the caller', async () => {
    const failure = await client
      .send(new GetItemCommand({ TableName: 'no-such-table', Key: { id: { S: 'o-3' } } }))
      .catch((error: unknown) => error);
    await received(1);

    expect((failure as Error).name).toBe('ResourceNotFoundException');
    expect(named('DynamoDB')[0]).toMatchObject({
      namespace: 'aws',
      error: true,
      aws: { operation: 'GetItem', table_name: 'no-such-table' },
      http: { response: { status: 400 } },
      cause: { exceptions: [{ type: 'ResourceNotFoundException', remote: true }] },
    });
    expect(named('DynamoDB')[0]).not.toHaveProperty('fault');
  });

  test('an SDK call that reaches no server is a fault', async () => {
    const unreachable = tracing.tracedClient(
      new DynamoDBClient({
        endpoint: 'http://127.0.0.1:9',
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      }),
    );

    const failure = await unreachable
      .send(new GetItemCommand({ TableName: 'orders', Key: { id: { S: 'o-4' } } }))
      .catch((error: unknown) => error);
    await received(1);
    unreachable.destroy();

    expect(failure).toBeInstanceOf(Error);
    expect(named('DynamoDB')[0]).toMatchObject({ fault: true, cause: { exceptions: [{ remote: true }] } });
  });

  test("the provider's calls are a gateway subsegment and a remote one with the HTTP exchange", async () => {
    const { createPaymentGateway } = await import('../../src/roots/payments.js');
    const gateway = createPaymentGateway({
      paymentProvider: {
        url: provider.url,
        timeoutMs: 5_000,
        deadlineReserveMs: 0,
        breakerFailureThreshold: 5,
        breakerHalfOpenAfterMs: 1_000,
        apiKey: undefined,
      },
    });

    const outcome = await gateway.authorize({
      orderId: 'o-5',
      amountCents: 1000,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      idempotencyKey: 'o-5:authorize',
    });
    await received(2);

    expect(outcome).toMatchObject({ outcome: 'AUTHORIZED' });
    expect(named('PaymentGateway.authorize')).toHaveLength(1);
    const [remote] = named('127.0.0.1');
    expect(remote).toMatchObject({
      namespace: 'remote',
      trace_id: ROOT,
      parent_id: FUNCTION_SEGMENT,
      http: {
        request: { method: 'POST', url: `${provider.url}/v1/authorizations` },
        response: { status: 201, content_length: expect.any(Number) },
      },
    });
    expect(remote).not.toHaveProperty('fault');
  });

  test('a fetch carries the trace header and records a 5xx answer as a fault', async () => {
    const headers: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      headers.push(request.headers);
      response.writeHead(503, { 'content-length': '2' }).end('no');
    });
    await listen(server, 0, '127.0.0.1');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/payments?secret=1`;

    const response = await fetch(url, { method: 'POST' });
    await response.text();
    await received(1);
    await closeServer(server);

    expect(response.status).toBe(503);
    const [remote] = named('127.0.0.1');
    expect(remote).toMatchObject({
      namespace: 'remote',
      fault: true,
      http: {
        request: { method: 'POST', url: url.replace('?secret=1', '') },
        response: { status: 503, content_length: 2 },
      },
    });
    expect(headers[0]?.['x-amzn-trace-id']).toBe(
      `Root=${ROOT};Parent=${remote?.id};Sampled=1;Lineage=a87bd80c:1`,
    );
  });

  test('the trace header is read again for each invocation', async () => {
    const traced = tracing.tracedMethods(store, 'Store');
    const nextRoot = '1-5759e989-0123456789abcdef01234567';

    await traced.placeOrder('o-6');
    process.env._X_AMZN_TRACE_ID = sampledHeader(nextRoot, '0a1b2c3d4e5f6a7b');
    await traced.placeOrder('o-7');
    await received(2);

    expect(named('Store.placeOrder').map(({ trace_id, parent_id }) => [trace_id, parent_id])).toEqual([
      [ROOT, FUNCTION_SEGMENT],
      [nextRoot, '0a1b2c3d4e5f6a7b'],
    ]);
  });

  test('an invocation not sampled sends nothing, and its SDK calls pass on its own header unchanged', async () => {
    const traced = tracing.tracedMethods(store, 'Store');
    const unsampled = `Root=${ROOT};Parent=${FUNCTION_SEGMENT};Sampled=0`;
    process.env._X_AMZN_TRACE_ID = unsampled;

    const placed = await traced.placeOrder('o-8');
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: 'o-8' } } }));
    await fetch(`${provider.url}/health`).then((response) => response.text());
    // One sampled call after them: the daemon's socket receives in order, so once it is here the
    // others would have been too.
    process.env._X_AMZN_TRACE_ID = sampledHeader();
    await traced.breakerState();
    await received(1);

    expect(placed).toEqual({ id: 'o-8' });
    expect(documents().map((document) => document.name)).toEqual(['Store.breakerState']);
    expect(dynamoHeaders.map((headers) => headers['x-amzn-trace-id'])).toEqual([unsampled]);
  });
});
