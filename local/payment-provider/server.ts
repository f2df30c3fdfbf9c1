import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { type PaymentEffect, sideEffectOfRequest, succeeded } from '../faults/side-effects.js';
import { handleProviderRequest, type ProviderDependencies } from './handler.js';
import { problem } from './responses.js';
import { InMemoryProviderStore, type ProviderStore } from './store.js';

export {
  handleProviderRequest,
  type ProviderRequest,
  type ProviderResponse,
} from './handler.js';
export { InMemoryProviderStore, type ProviderStore } from './store.js';

/** Bodies larger than this are refused; the API's bodies are a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

export interface SimulatedProviderOptions {
  /** 0 lets the kernel choose; read the chosen one from the result. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Randomness for `errorRate`, injectable for deterministic tests. @default Math.random */
  random?: () => number;
  /** Where the provider keeps its state. @default a new in-memory store */
  store?: ProviderStore;
  /** The credential its payment routes require (see `ProviderDependencies.credential`). @default - none */
  credential?: ProviderDependencies['credential'];
  /**
   * Told of every side effect the provider has just performed, before it answers (fault
   * injection from outside the product, local/faults/record-failures.ts). @default - nothing
   */
  afterSideEffect?: (effect: PaymentEffect, orderId: string) => Promise<void>;
}

export interface SimulatedProvider {
  /** e.g. `http://127.0.0.1:4010`, no trailing slash. */
  url: string;
  port: number;
  /** Stops listening and ends every open request, including held `pm_auth_timeout` ones. */
  close(): Promise<void>;
  /** The provider's state, for tests that look behind the HTTP API. */
  state: ProviderStore;
  /**
   * Requires another credential from now on, as a provider does once a key is rotated: callers
   * still sending the old one are refused (401).
   */
  rotateCredential(key: string): void;
}

/**
 * Starts the simulated payment provider (docs/architecture.md, "The parts") as a plain node:http server over an
 * in-memory store. The request logic is {@link handleProviderRequest}; this is only the glue.
 */
export async function startSimulatedProvider(options: SimulatedProviderOptions): Promise<SimulatedProvider> {
  const { port, host = '127.0.0.1', random } = options;
  const state = options.store ?? new InMemoryProviderStore();
  const logger = new Logger({ serviceName: 'simulated-payment-provider' });
  const deps: ProviderDependencies = {
    store: state,
    logger,
    ...(random ? { random } : {}),
    ...(options.credential ? { credential: options.credential } : {}),
  };
  // Aborted on close(), so held requests and injected latency end instead of keeping close() waiting.
  const inFlight = new Set<AbortController>();

  const server = createServer((req, res) => {
    const controller = new AbortController();
    inFlight.add(controller);
    // 'close' on the response fires when it was sent or when the client went away first.
    res.on('close', () => {
      inFlight.delete(controller);
      controller.abort();
    });
    serve(req, res, deps, controller.signal, options.afterSideEffect).catch((error: unknown) => {
      logger.error('simulated payment provider could not answer', { error });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    state,
    rotateCredential: (key) => {
      deps.credential = { key, scope: deps.credential?.scope ?? 'payments' };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const controller of inFlight) controller.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ProviderDependencies,
  signal: AbortSignal,
  afterSideEffect: SimulatedProviderOptions['afterSideEffect'],
): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) {
    const refusal = problem(413, 'BODY_TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    send(res, refusal.status, { 'content-type': refusal.contentType }, JSON.stringify(refusal.body));
    return;
  }
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const response = await handleProviderRequest(
    { method: req.method ?? 'GET', path: req.url ?? '/', headers, body },
    deps,
    signal,
  );
  const performed = sideEffectOfRequest(req.method ?? 'GET', headers['idempotency-key']);
  if (afterSideEffect && performed && succeeded(response.status)) {
    await afterSideEffect(performed.effect, performed.orderId);
  }
  send(res, response.status, response.headers, response.body);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.destroyed || res.writableEnded) return; // the client gave up (pm_auth_timeout) or we are closing
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request body as text, or undefined when it exceeds {@link MAX_BODY_BYTES}. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Keep draining past the limit so the socket stays usable for the 413.
    if (size <= MAX_BODY_BYTES) chunks.push(buffer);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}
