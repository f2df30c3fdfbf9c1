import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { GATEWAY_PROBLEMS, type GatewayProblem, problemResponse } from '../src/api/problems.js';
import type { RouteAuth } from '../src/api/routes.js';
import { apiGatewayEvent } from './aws/api-gateway-event.js';
import { LOCAL_ACCOUNT_ID } from './aws/local-account.js';
import type { UsageMeter } from './usage.js';

/** One method of the API, as the template defines it, served by its function's containers. */
export interface LocalApiRoute {
  readonly method: string;
  /** e.g. `/v1/orders/{orderId}` */
  readonly path: string;
  /** The method's authoriser: Cognito (`customer`), IAM (`admin`) or none. */
  readonly auth: RouteAuth;
  /** Names the route in the usage counts (`apiGateway.<operationId>`). */
  readonly operationId: string;
  /** Invokes the method's function; rejects when the function fails (an error, a timeout). */
  readonly invoke: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
}

/** The local twin of API Gateway: turns HTTP requests into REST (payload v1) events. */
export interface LocalApiServer {
  readonly url: string;
  /** Stops accepting connections and waits for requests in flight to finish. */
  close(): Promise<void>;
}

export interface LocalApiServerOptions {
  readonly port: number;
  readonly routes: readonly LocalApiRoute[];
  readonly host?: string;
  readonly log?: (entry: Record<string, unknown>) => void;
  /**
   * Counts API requests and handler invocations, and serves the stack's counts as JSON on
   * `GET /_local/usage` (a local-only path, outside the API's route table). @default - not counted
   */
  readonly usage?: UsageMeter;
}

/** Where the local API serves the stack's {@link UsageMeter} snapshot. */
export const LOCAL_USAGE_PATH = '/_local/usage';

// API Gateway's own limit; the handlers enforce the API's much smaller one.
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const ADMIN_ARN = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/local-admin`;

/**
 * Serves the API's methods, each by invoking its function (its containers, local/lambda).
 * Authorisation stands in for the Cognito authoriser and IAM: `Authorization: Bearer dev-<id>`
 * authenticates customer `<id>` (put into the claims as `sub`), `Bearer admin` is an IAM caller.
 * Like API Gateway, a route whose authoriser refuses the request never reaches its handler.
 */
export async function startLocalApiServer(options: LocalApiServerOptions): Promise<LocalApiServer> {
  const matchers = options.routes.map((route) => ({ route, ...pathPattern(route.path) }));
  const log = options.log ?? (() => {});

  const server: Server = createServer((request, response) => {
    const started = performance.now();
    serve(matchers, request, response, options.usage)
      .catch((error: unknown) => {
        log({ level: 'ERROR', message: 'local API server failed a request', error: String(error) });
        if (!response.headersSent) {
          const internal = problemResponse('INTERNAL_ERROR', 'The request could not be completed.');
          response.writeHead(internal.statusCode, { ...internal.headers, 'X-Correlation-Id': randomUUID() });
          response.end(internal.body);
        }
      })
      .finally(() => {
        log({
          level: 'INFO',
          message: 'request',
          method: request.method,
          path: request.url,
          status: response.statusCode,
          latencyMs: Math.round(performance.now() - started),
        });
      });
  });
  // Without this, Node answers a request its parser rejects with a bare `400 Bad Request`.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
    refuseUnparsableRequest(error, socket, log),
  );
  // Keep-alive sockets would hold close() open; requests in flight still finish.
  server.keepAliveTimeout = 1000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });

  return {
    url: `http://${host}:${options.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

type RouteMatcher = { readonly route: LocalApiRoute; readonly pattern: RegExp; readonly names: string[] };

async function serve(
  matchers: readonly RouteMatcher[],
  request: IncomingMessage,
  response: ServerResponse,
  usage: UsageMeter | undefined,
) {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  if (usage && method === 'GET' && url.pathname === LOCAL_USAGE_PATH) {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(usage.snapshot()));
    return;
  }
  const match = matchRoute(matchers, method, url.pathname);
  if (!match) {
    gatewayResponse(request, response, 'MISSING_AUTHENTICATION_TOKEN');
    return;
  }
  const body = await readBody(request);
  if (body === undefined) {
    gatewayResponse(request, response, 'REQUEST_TOO_LARGE');
    return;
  }

  const authorization = request.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  const customerId = token?.startsWith('dev-') ? token.slice(4) : undefined;
  const isAdmin = token === 'admin';
  if (match.route.auth === 'customer' && !customerId) {
    gatewayResponse(request, response, 'UNAUTHORIZED');
    return;
  }
  if (match.route.auth === 'admin' && !isAdmin) {
    gatewayResponse(request, response, 'ACCESS_DENIED');
    return;
  }

  const event = toEvent(request, url, match, body, { customerId, isAdmin });
  usage?.count(`apiGateway.${match.route.operationId}`);
  let result: APIGatewayProxyResult;
  try {
    result = await match.route.invoke(event);
  } catch {
    // A function that failed (threw, timed out, crashed) returned no response: API Gateway answers.
    gatewayResponse(request, response, 'DEFAULT_5XX');
    return;
  }
  writeResult(response, result);
}

function pathPattern(routePath: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${routePath.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { pattern, names };
}

function matchRoute(matchers: readonly RouteMatcher[], method: string, pathname: string) {
  for (const { route, pattern, names } of matchers) {
    if (route.method !== method) continue;
    const found = pattern.exec(pathname);
    if (found) {
      const pathParameters = Object.fromEntries(
        names.map((name, i) => [name, decodeURIComponent(found[i + 1] ?? '')]),
      );
      return { route, pathParameters };
    }
  }
  return undefined;
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(
  request: IncomingMessage,
  url: URL,
  match: { route: LocalApiRoute; pathParameters: Record<string, string> },
  body: Buffer,
  identity: { customerId: string | undefined; isAdmin: boolean },
): APIGatewayProxyEvent {
  const headers: [string, string][] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    headers.push([request.rawHeaders[i] as string, request.rawHeaders[i + 1] as string]);
  }
  return apiGatewayEvent({
    method: match.route.method,
    resource: match.route.path,
    path: url.pathname,
    headers,
    query: [...url.searchParams],
    pathParameters: match.pathParameters,
    body: body.length > 0 ? body.toString('utf8') : null,
    ...(identity.customerId && match.route.auth === 'customer' ? { customerId: identity.customerId } : {}),
    ...(identity.isAdmin && match.route.auth === 'admin' ? { adminArn: ADMIN_ARN } : {}),
    sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
    userAgent: request.headers['user-agent'] ?? null,
  });
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResult) {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name] = values.map(String);
  response.writeHead(result.statusCode, headers);
  response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
}

/** Answers as API Gateway's gateway response of that type would (see src/api/problems.ts). */
function gatewayResponse(
  request: IncomingMessage,
  response: ServerResponse,
  type: GatewayProblem['responseType'],
) {
  const problem = GATEWAY_PROBLEMS.find((candidate) => candidate.responseType === type) as GatewayProblem;
  const correlationId = request.headers['x-correlation-id'];
  const headers: Record<string, string> = {
    'Content-Type': 'application/problem+json',
    'X-Correlation-Id': typeof correlationId === 'string' && correlationId ? correlationId : randomUUID(),
  };
  const retryAfter = problem.headers['Retry-After'];
  if (retryAfter) headers['Retry-After'] = retryAfter.replaceAll("'", '');
  response.writeHead(problem.statusCode, headers);
  response.end(problem.body);
}

/**
 * A request Node's HTTP parser rejects (a control character in a header, a malformed request
 * line, an invalid chunk) never becomes an `IncomingMessage`. It gets the same problem+json 400
 * and `X-Correlation-Id` as every other refused request, written straight on the socket because
 * there is no response object; the connection is then closed, as the parser cannot resync.
 */
function refuseUnparsableRequest(
  error: NodeJS.ErrnoException,
  socket: Duplex,
  log: (entry: Record<string, unknown>) => void,
) {
  // The client went away, or a response is already on its way: nothing can be answered.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const correlationId = randomUUID();
  log({ level: 'WARN', message: 'unparsable request refused', parserError: error.code, correlationId });
  const problem = problemResponse('VALIDATION_FAILED', 'The request is not valid HTTP/1.1.');
  const body = Buffer.from(problem.body);
  const headers = {
    ...problem.headers,
    'Content-Length': String(body.length),
    'X-Correlation-Id': correlationId,
    Connection: 'close',
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\n${head}\r\n`), body]));
}
