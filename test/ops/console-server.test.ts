import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAdminClient } from '../../tools/ops/admin-client.js';
import { type OpsConsole, startOpsConsole } from '../../tools/ops/console/server.js';
import type { OpsTarget } from '../../tools/ops/target.js';

/**
 * The console's own guards, which no browser test can reach: a page elsewhere posting to it, a
 * rebinding host name, values from the API that look like markup. The admin API is a stand-in
 * that answers one listing and counts the calls that would change something.
 */
describe('operator console: requests it refuses, values it escapes', () => {
  let api: Server;
  let opsConsole: OpsConsole;
  let changes = 0;

  beforeAll(async () => {
    api = createServer((request, response) => {
      if (request.method !== 'GET') changes += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          items: [
            {
              compensationId: 'o-1:compensation',
              orderId: '00000000-0000-4000-8000-000000000001',
              customerId: '<img src=x onerror=alert(1)>',
              status: 'FAILED',
              steps: ['REVERSE_PAYMENT'],
              attempts: 5,
              lastError: '<script>alert("pwned")</script>',
              createdAt: new Date().toISOString(),
              updatedAt: new Date().toISOString(),
              resolvedAt: null,
              owed: {
                reservedItems: [],
                storeCreditCents: 0,
                card: { status: 'AUTHORIZED', amountCents: 100 },
              },
            },
          ],
        }),
      );
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const target: OpsTarget = {
      name: 'a test target',
      admin: createAdminClient(`http://127.0.0.1:${(api.address() as AddressInfo).port}`, { kind: 'local' }),
      // Nothing listens there: the attention header says it could not be read, the page still renders.
      sqs: new SQSClient({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        maxAttempts: 1,
      }),
      compensationQueue: { url: 'http://127.0.0.1:9/q', arn: 'arn:aws:sqs:us-east-1:123456789012:q' },
      deadLetterQueue: { url: 'http://127.0.0.1:9/dlq', arn: 'arn:aws:sqs:us-east-1:123456789012:dlq' },
      close: () => {},
    };
    opsConsole = await startOpsConsole(target);
  });
  afterAll(async () => {
    await opsConsole?.close();
    await new Promise((resolve) => api?.close(resolve));
  });

  /** A raw request, so the Host and Origin headers are exactly what a hostile page could send. */
  function send(options: { method: string; path: string; host?: string; origin?: string; body?: string }) {
    const url = new URL(opsConsole.url);
    return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: url.port,
            method: options.method,
            path: options.path,
            headers: {
              host: options.host ?? url.host,
              ...(options.origin ? { origin: options.origin } : {}),
              ...(options.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            },
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
            );
          },
        );
        req.on('error', reject);
        req.end(options.body);
      },
    );
  }

  async function csrfToken(): Promise<string> {
    const page = await send({ method: 'GET', path: '/compensations' });
    return /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  }

  test('values from the API are escaped, never markup; the page forbids inline script', async () => {
    const page = await send({ method: 'GET', path: '/compensations' });

    expect(page.status).toBe(200);
    expect(page.body).not.toContain('<script>alert');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
  });

  test('a rebinding host name gets no page', async () => {
    const page = await send({
      method: 'GET',
      path: '/compensations',
      host: `attacker.example:${new URL(opsConsole.url).port}`,
    });

    expect(page.status).toBe(421);
    expect(page.body).not.toContain('csrf');
  });

  test('a post without the console token changes nothing', async () => {
    const before = changes;

    const posted = await send({
      method: 'POST',
      path: '/compensations/retry',
      body: 'compensationId=o-1%3Acompensation&csrf=guess',
    });

    expect(posted.status).toBe(400);
    expect(posted.body).toContain('the form is stale');
    expect(changes).toBe(before);
  });

  test('a post from another origin changes nothing, even with the token', async () => {
    const token = await csrfToken();
    const before = changes;

    const posted = await send({
      method: 'POST',
      path: '/compensations/retry',
      origin: 'https://attacker.example',
      body: `compensationId=o-1%3Acompensation&csrf=${token}`,
    });

    expect(posted.status).toBe(400);
    expect(posted.body).toContain('cross-origin request refused');
    expect(changes).toBe(before);
  });

  test('with the token, from this origin, the retry goes to the admin API and back to a page of this console only', async () => {
    const token = await csrfToken();
    const before = changes;

    const posted = await send({
      method: 'POST',
      path: '/compensations/retry',
      origin: new URL(opsConsole.url).origin,
      body: `compensationId=o-1%3Acompensation&csrf=${token}&returnTo=${encodeURIComponent('//attacker.example/x')}`,
    });

    expect(posted.status).toBe(303);
    expect(String(posted.headers.location)).toMatch(/^\/compensations\?flash=/);
    expect(changes).toBe(before + 1);
  });
});
