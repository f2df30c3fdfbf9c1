import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ContainerFaults, CrashKind, FaultableContainer } from '../lambda/containers.js';
import { type PaymentEffect, sideEffectOfRequest, succeeded } from './side-effects.js';

export type { CrashKind } from '../lambda/containers.js';

/**
 * Where a planned crash ends the process, each a moment the emulator sees on the wire:
 * - a payment side effect (`authorize`, ...): the provider performed it and answered 2xx; the
 *   function dies before it sees the answer, so before it can record it;
 * - `placeOrder`: the checkout committed the order and its StartExecution reaches the endpoint;
 *   the function dies before the start is made (nor handed to the saga-start queue);
 * - `startExecution`: StartExecution succeeded; the function dies before it sees the answer (the
 *   saga starter, before its message is deleted).
 */
export type CrashPoint = PaymentEffect | 'placeOrder' | 'startExecution';

export interface PlannedCrash {
  readonly orderId: string;
  readonly effect: CrashPoint;
  /**
   * `unhandledRejection`: a rejected promise nobody awaits, as postgres.js 3.4.9 left when the
   * database cut a new connection during its catalog query (porsager/postgres#1192, a query the
   * data layer now turns off); the runtime reports `Runtime.UnhandledPromiseRejection`. `exit`:
   * the process exits (`Runtime.ExitError`).
   */
  readonly kind: CrashKind;
}

const planFile = (folder: string, crash: Pick<PlannedCrash, 'orderId' | 'effect'>) =>
  path.join(folder, `${crash.orderId}.${crash.effect}`);

/** Plans a crash for the containers whose faults are {@link processCrashes} of `folder`. */
export function planProcessCrash(folder: string, crash: PlannedCrash): void {
  writeFileSync(planFile(folder, crash), crash.kind);
}

/** Whether a container carried out the crash planned for this order and point. */
export function crashCarriedOut(folder: string, crash: Pick<PlannedCrash, 'orderId' | 'effect'>): boolean {
  try {
    readFileSync(`${planFile(folder, crash)}.crashed`);
    return true;
  } catch {
    return false;
  }
}

/** Takes the plan for this order and point, once: of two containers that reach it, one claims it. */
function claim(folder: string, crash: Pick<PlannedCrash, 'orderId' | 'effect'>): CrashKind | undefined {
  const plan = planFile(folder, crash);
  try {
    renameSync(plan, `${plan}.crashed`);
    return readFileSync(`${plan}.crashed`, 'utf8') as CrashKind;
  } catch {
    return undefined;
  }
}

/** The variables whose endpoints a container's calls go through, and what is watched there. */
const ROUTED = { PAYMENT_PROVIDER_URL: 'provider', AWS_ENDPOINT_URL_SFN: 'sfn' } as const;
type Route = (typeof ROUTED)[keyof typeof ROUTED];

/**
 * A function's process dying mid-invocation, for tests of what the product does then, from
 * outside the product: each container's calls to the payment provider and to Step Functions go
 * through this interposer (its own path per container), which forwards them and, at a planned
 * {@link CrashPoint} of an order, has the pool end that container's process (see
 * `FaultableContainer.crash`) and drops the call. Once per plan: the Task's or the client's retry,
 * in a fresh container, runs normally.
 */
export function processCrashes(folder: string): ContainerFaults & { close(): Promise<void> } {
  const containers = new Map<string, { container: FaultableContainer; upstream: Map<Route, string> }>();
  let server: Server | undefined;
  let base = '';

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const match = /^\/c(\d+)\/(provider|sfn)(\/.*)?$/.exec(request.url ?? '');
    const entry = match ? containers.get(match[1] as string) : undefined;
    const upstream = entry?.upstream.get(match?.[2] as Route);
    if (!match || !entry || !upstream) {
      response.writeHead(404).end();
      return;
    }
    const route = match[2] as Route;
    const body = await readBody(request);
    const crashBefore = route === 'sfn' ? startOf(request, body) : undefined;
    const before = crashBefore && claim(folder, { orderId: crashBefore, effect: 'placeOrder' });
    if (before) {
      await entry.container.crash(before, `the process dies after the commit of order ${crashBefore}`);
      request.socket.destroy();
      return;
    }
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const forwarded = await fetch(`${upstream}${match[3] ?? ''}`, {
      method: request.method ?? 'GET',
      headers: forwardedHeaders(request),
      ...(body.length > 0 ? { body } : {}),
      signal: abort.signal,
    }).catch(() => undefined);
    if (!forwarded) {
      request.socket.destroy();
      return;
    }
    const answer = Buffer.from(await forwarded.arrayBuffer());
    const point: { orderId: string; effect: CrashPoint } | undefined =
      route === 'provider'
        ? sideEffectOfRequest(request.method ?? '', header(request, 'idempotency-key'))
        : crashBefore
          ? { orderId: crashBefore, effect: 'startExecution' }
          : undefined;
    const after = point && succeeded(forwarded.status) ? claim(folder, point) : undefined;
    if (point && after) {
      await entry.container.crash(after, `the process dies after ${point.effect} of order ${point.orderId}`);
      request.socket.destroy();
      return;
    }
    response.writeHead(forwarded.status, {
      'content-type': forwarded.headers.get('content-type') ?? 'application/octet-stream',
      'content-length': answer.length,
      ...Object.fromEntries([...forwarded.headers].filter(([name]) => name.startsWith('x-amz'))),
    });
    response.end(answer);
  }

  return {
    async prepare() {
      if (server) return;
      server = createServer((request, response) => {
        handle(request, response).catch(() => request.socket.destroy());
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    environmentFor(container, environment) {
      const upstream = new Map<Route, string>();
      const routed: Record<string, string> = { ...environment };
      for (const [name, route] of Object.entries(ROUTED)) {
        const original = environment[name];
        if (!original) continue;
        upstream.set(route, original.replace(/\/$/, ''));
        routed[name] = `${base}/c${container.id}/${route}`;
      }
      containers.set(String(container.id), { container, upstream });
      return routed;
    },
    forget(container) {
      containers.delete(String(container.id));
    },
    async close() {
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      server = undefined;
    },
  };
}

/** The execution name (the order id) of a StartExecution request; undefined for any other call. */
function startOf(request: IncomingMessage, body: Buffer): string | undefined {
  if (header(request, 'x-amz-target') !== 'AWSStepFunctions.StartExecution') return undefined;
  try {
    const name = (JSON.parse(body.toString('utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The request's headers for the upstream: the same, but for those of this hop. */
function forwardedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(name))
      continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
