import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiGatewayEvent } from '../../../local/aws/api-gateway-event.js';
import { createLambdaContext } from '../../../local/aws/lambda-context.js';
import type { ApiGatewayHandler } from '../../../src/api/http.js';

export interface EventOptions {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** The route's resource path, e.g. `/v1/orders/{orderId}`. */
  readonly resource: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** A string is sent as is; anything else is JSON-encoded. Omitted: no body. */
  readonly body?: unknown;
  readonly isBase64Encoded?: boolean;
  /** Customer claims (`sub`) as the Cognito authorizer puts them. */
  readonly customerId?: string;
  /** An IAM caller, as SigV4 authorisation puts it. */
  readonly adminArn?: string;
}

/** An API Gateway REST (payload v1) proxy event, shaped as AWS delivers it. */
export function apiEvent(options: EventOptions): APIGatewayProxyEvent {
  const path = Object.entries(options.pathParameters ?? {}).reduce(
    (result, [name, value]) => result.replace(`{${name}}`, encodeURIComponent(value)),
    options.resource,
  );
  const headers: Record<string, string> = {
    Host: 'api.example.test',
    ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    ...options.headers,
  };
  const body =
    options.body === undefined
      ? null
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return apiGatewayEvent({
    method: options.method,
    resource: options.resource,
    path,
    headers: Object.entries(headers),
    query: Object.entries(options.query ?? {}),
    pathParameters: options.pathParameters ?? null,
    body,
    isBase64Encoded: options.isBase64Encoded ?? false,
    ...(options.customerId === undefined ? {} : { customerId: options.customerId }),
    ...(options.adminArn === undefined ? {} : { adminArn: options.adminArn }),
    userAgent: 'vitest',
    stage: 'v1',
  });
}

export const ADMIN_ARN = 'arn:aws:iam::123456789012:user/operator';

/** A handler's answer, with the body parsed when it is JSON. */
export interface ApiResult extends APIGatewayProxyResult {
  readonly headers: Record<string, string>;
  readonly json: Record<string, unknown>;
}

/** Invokes a handler as the Lambda runtime would, with a fresh context. */
export async function invoke(handler: ApiGatewayHandler, event: APIGatewayProxyEvent): Promise<ApiResult> {
  const result = await handler(
    event,
    createLambdaContext({ functionName: 'checkout-api', timeoutMs: 10_000 }),
  );
  const headers = (result.headers ?? {}) as Record<string, string>;
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(result.body) as Record<string, unknown>;
  } catch {
    // not JSON: the assertions will say so
  }
  return { ...result, headers, json };
}
