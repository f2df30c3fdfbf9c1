import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { PAYMENT_PROVIDER_FUNCTION } from '../../src/config/functions.js';
import { handleProviderRequest, type ProviderDependencies } from '../../src/payments/provider/handler.js';
import { InMemoryProviderStore } from '../../src/payments/provider/store.js';
import { configurationFor } from '../../src/roots/configuration.js';
import { logger } from '../../src/runtime/observability.js';
import { perContainer } from '../../src/runtime/per-container.js';
import { secretString } from '../../src/runtime/secrets.js';

/**
 * Answer this long before the function would time out, so a held `pm_auth_timeout` request ends
 * with the provider's own 504 instead of a Lambda timeout.
 */
const ANSWER_MARGIN_MS = 1_000;

// The simulated provider keeps authorizations, the ledger and faults in memory. The function runs
// with reserved concurrency 1 (see lib/constructs/simulated-payment-provider.ts) so every request
// meets this one store; a new execution environment (after idle time or a deploy) starts empty,
// which is acceptable for a non-production test double.
const store = new InMemoryProviderStore();
/**
 * The store and, when the provider secret is configured (always, as deployed), the credential
 * every route of the public function URL requires: read once per container, again after a failure.
 */
const providerDependencies = perContainer(async (): Promise<ProviderDependencies> => {
  const { secretArn } = configurationFor(PAYMENT_PROVIDER_FUNCTION).providerSecret;
  if (!secretArn) return { store, logger };
  try {
    return { store, logger, credential: { key: await secretString(secretArn), scope: 'all' as const } };
  } catch (error) {
    providerDependencies.forget();
    throw error;
  }
});

/** Function URL adapter of the simulated payment provider (docs/architecture.md, "The parts"); the logic is `handleProviderRequest`. */
async function serve(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(),
    Math.max(0, context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS),
  );
  try {
    const body = event.body ?? '';
    const response = await handleProviderRequest(
      {
        method: event.requestContext.http.method,
        path: event.rawQueryString ? `${event.rawPath}?${event.rawQueryString}` : event.rawPath,
        headers: lowerCaseKeys(event.headers),
        body: event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body,
      },
      await providerDependencies(),
      controller.signal,
    );
    return { statusCode: response.status, headers: response.headers, body: response.body };
  } finally {
    clearTimeout(timer);
  }
}

// Function URLs already lower-case header names; lower-casing again keeps direct test invocations honest.
function lowerCaseKeys(headers: APIGatewayProxyEventV2['headers']): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

export const handler = middy(serve).use(injectLambdaContext(logger, { clearState: true }));
