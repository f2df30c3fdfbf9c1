import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, test } from 'vitest';
import { handler } from '../../local/payment-provider/function.js';

/** A Lambda function URL event (payload format 2.0), as the URL hands it to the function. */
function urlEvent(
  method: string,
  rawPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyEventV2 {
  const [pathOnly, query = ''] = rawPath.split('?');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: pathOnly as string,
    rawQueryString: query,
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'url-id',
      domainName: 'url-id.lambda-url.us-east-1.on.aws',
      domainPrefix: 'url-id',
      http: {
        method,
        path: pathOnly as string,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.1',
        userAgent: 'test',
      },
      requestId: 'request-1',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2030:00:00:00 +0000',
      timeEpoch: 1_893_456_000_000,
    },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

function context(remainingMs: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'simulated-payment-provider',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:simulated-payment-provider',
    memoryLimitInMB: '256',
    awsRequestId: 'aws-request-1',
    logGroupName: '/aws/lambda/simulated-payment-provider',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

async function invoke(
  event: APIGatewayProxyEventV2,
  remainingMs = 15_000,
): Promise<APIGatewayProxyStructuredResultV2> {
  return (await handler(event, context(remainingMs))) as APIGatewayProxyStructuredResultV2;
}

describe('simulated payment provider behind a function URL', () => {
  test('authorizes a test card and records it in the ledger of the same environment', async () => {
    const orderId = crypto.randomUUID();

    const authorized = await invoke(
      urlEvent(
        'POST',
        '/v1/authorizations',
        { orderId, amountCents: 1250, currency: 'USD', paymentMethod: 'pm_card_visa' },
        { 'idempotency-key': `${orderId}:authorize` },
      ),
    );
    const ledger = await invoke(urlEvent('GET', `/ledger?orderId=${orderId}`));

    expect(authorized.statusCode).toBe(201);
    expect(JSON.parse(ledger.body as string)).toMatchObject({
      entries: [{ operation: 'authorize', orderId, amountCents: 1250, outcome: 'succeeded' }],
    });
  });

  test('answers a held pm_auth_timeout authorization before the function would time out', async () => {
    const orderId = crypto.randomUUID();
    const started = Date.now();

    const response = await invoke(
      urlEvent(
        'POST',
        '/v1/authorizations',
        { orderId, amountCents: 100, currency: 'USD', paymentMethod: 'pm_auth_timeout' },
        { 'idempotency-key': `${orderId}:authorize` },
      ),
      1_300,
    );

    expect(response.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(1_300);
  });

  test('decodes base64 bodies', async () => {
    const event = urlEvent('POST', '/control/faults');
    const faults = await invoke({
      ...event,
      body: Buffer.from(JSON.stringify({ latencyMs: 5 })).toString('base64'),
      isBase64Encoded: true,
    });
    const cleared = await invoke(urlEvent('DELETE', '/control/faults'));

    expect(JSON.parse(faults.body as string)).toMatchObject({ latencyMs: 5 });
    expect(JSON.parse(cleared.body as string)).toMatchObject({ latencyMs: 0 });
  });
});
