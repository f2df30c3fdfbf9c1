import { subscribe } from 'node:diagnostics_channel';
import { readGroup } from '../config/declarations.js';
import { lambda, powertools } from '../config/variables.js';
import {
  daemonEmitter,
  daemonUdpAddress,
  downstreamTraceHeader,
  type InvocationTrace,
  invocationTrace,
  recordCause,
  type Subsegment,
  startSubsegment,
} from './xray.js';

/**
 * X-Ray tracing without the X-Ray SDK (docs/adr/0014-tracing-without-the-xray-sdk.md): inside
 * Lambda with tracing on (`POWERTOOLS_TRACE_ENABLED` not `false`), each traced call of a sampled
 * invocation (`Sampled=1` in its trace header) is one subsegment sent to the X-Ray daemon
 * (`./xray.ts`). Outside Lambda, or with tracing off, every helper below hands back what it was given: no
 * wrapper, no middleware, no cost per call; not sampled, a call costs a string comparison.
 *
 * Traced: the AWS SDK clients ({@link tracedClient}, a middleware in the client's stack), every
 * `fetch` (the provider's HTTP calls, through undici's diagnostics channels) and the database and
 * gateway calls, one subsegment per method ({@link tracedMethods}). Subsegments are flat, all
 * children of the function's segment: nothing tracks an async context. Each carries the
 * invocation's annotations ({@link annotate}): the correlation id and, where there is one, the
 * order id, so X-Ray can find every trace of an order.
 */

const { functionName, xrayDaemonAddress } = readGroup(lambda, process.env);
const { traceEnabled } = readGroup(powertools, process.env);

/** Sends a finished subsegment; undefined when not tracing, which turns every helper into the identity. */
const send =
  functionName !== undefined && traceEnabled ? daemonEmitter(daemonUdpAddress(xrayDaemonAddress)) : undefined;
const annotations = new Map<string, string>();

/** Annotates every subsegment of this invocation from now on (the last value of a key wins). */
export function annotate(values: Readonly<Record<string, string | undefined>>): void {
  if (!send) return;
  for (const [key, value] of Object.entries(values)) if (value !== undefined) annotations.set(key, value);
}

/** Forgets the annotations of the previous invocation; call first in each invocation. */
export function clearAnnotations(): void {
  annotations.clear();
}

/** A subsegment starting now when this invocation is sampled, annotated. */
function begin(name: string): { subsegment: Subsegment; trace: InvocationTrace } | undefined {
  const trace = invocationTrace();
  if (!send || !trace?.sampled) return undefined;
  const subsegment = startSubsegment(trace, name);
  if (annotations.size > 0) subsegment.annotations = Object.fromEntries(annotations);
  return { subsegment, trace };
}

function end(subsegment: Subsegment): void {
  subsegment.end_time = Date.now() / 1000;
  send?.(subsegment);
}

/** Ends the subsegment as a fault with `error` as its cause; `remote` when a downstream call raised it. */
function endWithFault(subsegment: Subsegment, error: unknown, remote: boolean): void {
  subsegment.fault = true;
  recordCause(subsegment, error, remote);
  end(subsegment);
}

/** Runs `work` in a subsegment `name`, annotated; an error it throws or rejects with is a fault. */
export function traced<T>(name: string, work: () => T): T {
  const started = begin(name);
  if (!started) return work();
  const { subsegment } = started;
  let result: T;
  try {
    result = work();
  } catch (error) {
    endWithFault(subsegment, error, false);
    throw error;
  }
  if (!(result instanceof Promise)) {
    end(subsegment);
    return result;
  }
  return result.then(
    (value) => {
      end(subsegment);
      return value;
    },
    (error: unknown) => {
      endWithFault(subsegment, error, false);
      throw error;
    },
  ) as T;
}

/**
 * The object with each of its methods traced as `<label>.<method>`: for the stores (one
 * subsegment per database call) and the payment gateway. Without tracing, the object itself.
 */
export function tracedMethods<T extends object>(target: T, label: string): T {
  if (!send) return target;
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => traced(`${label}.${property}`, () => value.apply(object, args));
    },
  });
}

/** What a subsegment records of a response's status: 429 throttled, 4xx an error, 5xx a fault. */
function flagStatus(subsegment: Subsegment, status: number | undefined): void {
  if (status === undefined) return;
  if (status === 429) subsegment.throttle = true;
  if (status >= 500) subsegment.fault = true;
  else if (status >= 400) subsegment.error = true;
}

/** The part of an SDK v3 client the middleware needs; every generated client has it. */
interface SdkClient {
  readonly config: { readonly region?: unknown };
  readonly middlewareStack: {
    add(middleware: BuildMiddleware, options: { step: 'build'; name: string; override: boolean }): void;
  };
}
type BuildMiddleware = (
  next: (args: BuildArgs) => Promise<BuildOutput>,
  context: { clientName?: string; commandName?: string },
) => (args: BuildArgs) => Promise<BuildOutput>;
interface BuildArgs {
  readonly input: object;
  readonly request: unknown;
}
interface BuildOutput {
  readonly output: { readonly $metadata?: ResponseMetadata };
  readonly response: unknown;
}
interface ResponseMetadata {
  readonly httpStatusCode?: number;
  readonly requestId?: string;
  readonly attempts?: number;
}

/**
 * An AWS SDK v3 client whose calls are recorded: one subsegment per call (retries included)
 * named after the service, `namespace: "aws"`, with the operation, region, request id, table or
 * queue; the call's request carries the trace header with its subsegment as parent, as the X-Ray
 * SDK's middleware does. Without tracing, the client untouched.
 */
export function tracedClient<T extends SdkClient>(client: T): T {
  if (!send) return client;
  client.middlewareStack.add(awsCallMiddleware(client.config.region), {
    step: 'build',
    name: 'xrayTracingMiddleware',
    override: true,
  });
  return client;
}

/** Errors whose name says the service throttled the call (DynamoDB's come as 400, not 429). */
const THROTTLED = /Throttl|TooManyRequests|ProvisionedThroughputExceeded|RequestLimitExceeded/;

function awsCallMiddleware(region: unknown): BuildMiddleware {
  return (next, context) => async (args) => {
    const started = begin(context.clientName?.replace(/Client$/, '') ?? 'AWS');
    if (!started) return next(args);
    const { subsegment, trace } = started;
    subsegment.namespace = 'aws';
    const headers = (args.request as { headers?: Record<string, string> }).headers;
    if (headers) headers['X-Amzn-Trace-Id'] = downstreamTraceHeader(trace, subsegment.id);
    const record = async (metadata: ResponseMetadata | undefined, contentLength: string | undefined) => {
      const input = args.input as { TableName?: unknown; QueueUrl?: unknown };
      const resolvedRegion: unknown = typeof region === 'function' ? await region() : region;
      subsegment.aws = {
        operation: context.commandName?.replace(/Command$/, '') ?? '',
        ...(typeof resolvedRegion === 'string' ? { region: resolvedRegion } : {}),
        ...(metadata?.requestId ? { request_id: metadata.requestId } : {}),
        retries: Math.max(0, (metadata?.attempts ?? 1) - 1),
        ...(typeof input.TableName === 'string' ? { table_name: input.TableName } : {}),
        ...(typeof input.QueueUrl === 'string' ? { queue_url: input.QueueUrl } : {}),
      };
      const status = metadata?.httpStatusCode;
      if (status !== undefined) {
        subsegment.http = {
          response: { status, ...(contentLength ? { content_length: Number(contentLength) } : {}) },
        };
      }
      flagStatus(subsegment, status);
    };
    try {
      const result = await next(args);
      const responseHeaders = (result.response as { headers?: Record<string, string> }).headers;
      await record(result.output.$metadata, responseHeaders?.['content-length']);
      end(subsegment);
      return result;
    } catch (error) {
      const failure = error as { name?: string; $metadata?: ResponseMetadata };
      await record(failure.$metadata, undefined);
      if (failure.$metadata?.httpStatusCode === undefined) subsegment.fault = true;
      if (THROTTLED.test(failure.name ?? '')) subsegment.throttle = subsegment.error = true;
      recordCause(subsegment, error, true);
      end(subsegment);
      throw error;
    }
  };
}

/** What undici (Node's `fetch`) publishes on its diagnostics channels, as far as used here. */
interface UndiciRequest {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  addHeader(name: string, value: string): unknown;
}
interface UndiciResponse {
  readonly statusCode: number;
  /** Alternating names and values. */
  readonly headers: readonly (Buffer | string)[];
}

/**
 * Every `fetch` of a sampled invocation is a `remote` subsegment named after the host, with the
 * method, the URL without its query and the status; it carries the trace header, so a traced
 * server (the simulated provider's function) joins the trace. The subsegment ends when the
 * response headers arrive: reading the body is the caller's time. Subscribed only when tracing.
 */
function traceFetch(): void {
  const open = new WeakMap<UndiciRequest, Subsegment>();
  subscribe('undici:request:create', (message) => {
    const { request } = message as { request: UndiciRequest };
    if (request.method === 'CONNECT') return;
    const started = begin(new URL(request.origin).hostname);
    if (!started) return;
    const { subsegment, trace } = started;
    subsegment.namespace = 'remote';
    subsegment.http = {
      request: { method: request.method, url: request.origin + request.path.split('?')[0] },
    };
    request.addHeader('X-Amzn-Trace-Id', downstreamTraceHeader(trace, subsegment.id));
    open.set(request, subsegment);
  });
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: UndiciRequest; response: UndiciResponse };
    const subsegment = open.get(request);
    if (!subsegment) return;
    open.delete(request);
    const lengthAt = response.headers.findIndex(
      (value, index) => index % 2 === 0 && value.toString().toLowerCase() === 'content-length',
    );
    const contentLength = lengthAt >= 0 ? Number(response.headers[lengthAt + 1]?.toString()) : undefined;
    subsegment.http = {
      ...subsegment.http,
      response: {
        status: response.statusCode,
        ...(contentLength !== undefined ? { content_length: contentLength } : {}),
      },
    };
    flagStatus(subsegment, response.statusCode);
    end(subsegment);
  });
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: UndiciRequest; error: unknown };
    const subsegment = open.get(request);
    if (!subsegment) return;
    open.delete(request);
    endWithFault(subsegment, error, true);
  });
}

if (send) traceFetch();
