import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type LocalApiServer, startLocalApiServer } from '../../local/api-server.js';
import { findFreePort } from '../../local/ports.js';

/** Sends raw bytes, as a client whose request Node's HTTP parser rejects would, and reads until close. */
function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
    socket.write(bytes, 'latin1');
  });
}

function parse(raw: string) {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return { statusLine, headers, body };
}

describe('local API server: requests the HTTP parser rejects', () => {
  let server: LocalApiServer;
  let port: number;

  beforeAll(async () => {
    port = await findFreePort();
    server = await startLocalApiServer({ port, routes: [] });
  });
  afterAll(async () => {
    await server?.close();
  });

  test.each([
    [
      'a control character in a header value',
      'GET /v1/orders/x HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n',
    ],
    ['a malformed request line', 'GET /v1/orders HTTP/9.x\r\nHost: a\r\n\r\n'],
    ['a header line without a colon', 'POST /v1/checkout HTTP/1.1\r\nHost: a\r\nnot a header\r\n\r\n'],
  ])('%s gets a problem+json 400 with a correlation id', async (_case, request) => {
    const raw = await sendRaw(port, request);

    const { statusLine, headers, body } = parse(raw);
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(headers['content-type']).toBe('application/problem+json');
    expect(headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  test('a well-formed request on the same server is still served', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/v1/nowhere`);

    expect(response.status).toBe(403);
    expect(response.headers.get('x-correlation-id')).toBeTruthy();
  });
});
