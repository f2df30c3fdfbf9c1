import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { describeError } from '../runtime/errors.js';
import { logger, useCorrelationId } from '../runtime/observability.js';
import { perContainer } from '../runtime/per-container.js';
import type * as z from '../runtime/schema.js';
import { annotate, clearAnnotations } from '../runtime/tracing.js';
import { type FieldError, type HttpResponse, ProblemError, problemFromError } from './problems.js';

/** Bodies above this are refused with 413 before parsing; a 50-line cart is about 3 KB. */
export const MAX_BODY_BYTES = 64 * 1024;
export const CORRELATION_ID_HEADER = 'X-Correlation-Id';
/** Echoed correlation ids are limited to what is safe in a header and a log line. */
const CORRELATION_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** One API request as a route sees it. */
export interface ApiRequest {
  readonly event: APIGatewayProxyEvent;
  readonly context: Context;
  readonly correlationId: string;
}

export type Route = (request: ApiRequest) => Promise<HttpResponse>;

/** A route built on its first request (from its dependencies, resolved once), then reused. */
export function routeOnFirstRequest(build: () => Route): Route {
  const route = perContainer(build);
  return (request) => route()(request);
}

/** What every API handler module exports: an API Gateway (REST, payload v1) Lambda handler. */
export type ApiGatewayHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

/** A header value, looked up case-insensitively (API Gateway keeps the client's spelling). */
export function headerValue(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The request's correlation id when it sent a usable one, else a new one. */
export function correlationIdOf(event: APIGatewayProxyEvent): string {
  const sent = headerValue(event, CORRELATION_ID_HEADER)?.trim();
  return sent && CORRELATION_ID.test(sent) ? sent : randomUUID();
}

/** `application/json` or any `application/*+json`, with no charset other than UTF-8. */
function isJsonMediaType(contentType: string): boolean {
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(mediaType)) return false;
  return parameters.every(
    (parameter) => !parameter.startsWith('charset=') || /^charset="?utf-8"?$/.test(parameter),
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body parsed as JSON, or a problem: 415 for a non-JSON content type, 413 above
 * {@link MAX_BODY_BYTES}, 400 `VALIDATION_FAILED` for a missing body, bytes that are not UTF-8,
 * or text that is not JSON.
 */
export function readJsonBody(event: APIGatewayProxyEvent): unknown {
  const contentType = headerValue(event, 'content-type');
  if (contentType === undefined || !isJsonMediaType(contentType)) {
    throw new ProblemError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (UTF-8).');
  }
  const raw = event.body ?? '';
  const size = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (size > MAX_BODY_BYTES) {
    throw new ProblemError('PAYLOAD_TOO_LARGE', `The body must not exceed ${MAX_BODY_BYTES} bytes.`);
  }
  let text = raw;
  if (event.isBase64Encoded) {
    try {
      text = utf8.decode(Buffer.from(raw, 'base64'));
    } catch {
      throw validationProblem([{ path: '', message: 'the body is not valid UTF-8' }]);
    }
  }
  if (text.trim() === '') throw validationProblem([{ path: '', message: 'a JSON body is required' }]);
  try {
    return JSON.parse(text);
  } catch {
    throw validationProblem([{ path: '', message: 'the body is not valid JSON' }]);
  }
}

function validationProblem(errors: FieldError[]): ProblemError {
  return new ProblemError('VALIDATION_FAILED', 'The request has invalid or missing fields.', { errors });
}

const MAX_FIELD_ERRORS = 50;
const MAX_POINTER_SEGMENT = 100;

/** A JSON Pointer (RFC 6901) segment; overlong client-chosen keys are shortened for the response. */
function pointerSegment(segment: PropertyKey): string {
  const text = String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
  return text.length > MAX_POINTER_SEGMENT ? `${text.slice(0, MAX_POINTER_SEGMENT)}…` : text;
}

function pointer(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((result, segment) => `${result}/${pointerSegment(segment)}`, base);
}

/** Schema issues as field errors; an unknown member becomes one error at its own path. */
export function fieldErrors(error: z.core.$ZodError, base = ''): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ path: pointer(base, [...issue.path, key]), message: 'is not a known member' });
      }
    } else {
      errors.push({ path: pointer(base, issue.path), message: issue.message });
    }
  }
  return errors.slice(0, MAX_FIELD_ERRORS);
}

/**
 * Parses a value with a schema, or throws a 400 `VALIDATION_FAILED` problem listing every field
 * error. `base` prefixes the paths, e.g. `/pathParameters` for route parameters.
 */
export function parseWith<T extends z.ZodMiniType>(schema: T, value: unknown, base = ''): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(fieldErrors(result.error, base));
  return result.data;
}

/** A JSON response. */
export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export interface ApiHandlerOptions {
  /** Sees every response, problems included, e.g. to count outcomes. Never changes it. */
  readonly onResponse?: (response: HttpResponse, request: ApiRequest) => void;
}

/**
 * Turns a route into an API Gateway (REST, payload v1) handler: sets the correlation id on the
 * logger and on the response, maps anything thrown to a problem (unexpected errors are logged
 * in full and answered with a generic 500), and logs one line per request.
 */
export function apiHandler(route: Route, options: ApiHandlerOptions = {}) {
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const started = performance.now();
    const correlationId = correlationIdOf(event);
    useCorrelationId(correlationId);
    clearAnnotations();
    annotate({ correlationId });
    const request: ApiRequest = { event, context, correlationId };

    let response: HttpResponse;
    try {
      response = await route(request);
    } catch (error) {
      const classified = problemFromError(error);
      response = classified.response;
      if (classified.serverFault) logger.error('request failed', { code: response.code, error });
      else logger.info('request refused', { code: response.code, reason: describeError(error, 500) });
    }

    try {
      options.onResponse?.(response, request);
    } catch (error) {
      logger.warn('response observer failed', { error });
    }
    logger.info('request completed', {
      method: event.httpMethod,
      resource: event.resource,
      statusCode: response.statusCode,
      ...(response.code ? { code: response.code } : {}),
      latencyMs: Math.round(performance.now() - started),
    });
    return {
      statusCode: response.statusCode,
      headers: { ...response.headers, 'Cache-Control': 'no-store', [CORRELATION_ID_HEADER]: correlationId },
      body: response.body,
    };
  };
}
