import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID } from './local-account.js';

export interface ApiGatewayEventInput {
  readonly method: string;
  /** The route's resource path, e.g. `/v1/orders/{orderId}`. */
  readonly resource: string;
  /** The request path, e.g. `/v1/orders/123`. */
  readonly path: string;
  /** Header name/value pairs in the order they came; a repeated header appears more than once. */
  readonly headers: readonly (readonly [string, string])[];
  readonly query: readonly (readonly [string, string])[];
  readonly pathParameters: Readonly<Record<string, string>> | null;
  readonly body: string | null;
  readonly isBase64Encoded?: boolean;
  /** Cognito user-pool claims' `sub`, as the authoriser puts it. */
  readonly customerId?: string;
  /** The IAM caller of a SigV4-authorised request. */
  readonly adminArn?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string | null;
  /** @default 'local' */
  readonly stage?: string;
}

/**
 * An API Gateway REST (payload v1) proxy event, shaped as AWS delivers it: single- and multi-value
 * headers and query strings, path parameters, and the authoriser's identity in the request context.
 * The local API server and the handler tests build their events here, so both see the same shape.
 */
export function apiGatewayEvent(input: ApiGatewayEventInput): APIGatewayProxyEvent {
  const stage = input.stage ?? 'local';
  return {
    resource: input.resource,
    path: input.path,
    httpMethod: input.method,
    ...singleAndMulti(input.headers, 'headers', 'multiValueHeaders'),
    ...singleAndMultiOrNull(input.query, 'queryStringParameters', 'multiValueQueryStringParameters'),
    pathParameters:
      input.pathParameters && Object.keys(input.pathParameters).length > 0
        ? { ...input.pathParameters }
        : null,
    stageVariables: null,
    body: input.body,
    isBase64Encoded: input.isBase64Encoded ?? false,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      authorizer: input.customerId === undefined ? null : { claims: { sub: input.customerId } },
      protocol: 'HTTP/1.1',
      httpMethod: input.method,
      identity: {
        accessKey: null,
        accountId: input.adminArn ? LOCAL_ACCOUNT_ID : null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: input.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: input.userAgent ?? null,
        userArn: input.adminArn ?? null,
      },
      path: `/${stage}${input.path}`,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: input.resource,
    },
  } as APIGatewayProxyEvent;
}

function singleAndMulti<S extends string, M extends string>(
  pairs: readonly (readonly [string, string])[],
  single: S,
  multi: M,
): Record<S, Record<string, string>> & Record<M, Record<string, string[]>> {
  const one: Record<string, string> = {};
  const many: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    one[name] = value;
    many[name] = [...(many[name] ?? []), value];
  }
  return { [single]: one, [multi]: many } as Record<S, Record<string, string>> &
    Record<M, Record<string, string[]>>;
}

function singleAndMultiOrNull<S extends string, M extends string>(
  pairs: readonly (readonly [string, string])[],
  single: S,
  multi: M,
) {
  if (pairs.length === 0) return { [single]: null, [multi]: null } as Record<S | M, null>;
  return singleAndMulti(pairs, single, multi);
}
