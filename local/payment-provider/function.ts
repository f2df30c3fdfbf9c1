import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { PAYMENT_PROVIDER_FUNCTION } from '../../src/config/functions.js';
import { configurationFor } from '../../src/roots/configuration.js';
import { logger } from '../../src/runtime/observability.js';
import { secretString } from '../../src/runtime/secrets.js';
import { handleProviderRequest, type ProviderDependencies } from './handler.js';
import { InMemoryProviderStore } from './store.js';

/**
 * Answer this long before the function would time out, so a held `pm_auth_timeout` request ends
 * with the provider's own 504 instead of a Lambda timeout.
 */
const ANSWER_MARGIN_MS = 1_000;

// The simulated provider keeps authorizations, the ledger and faults in memory, per execution
// environment (lib/constructs/payment-provider.ts says why it reserves no concurrency); a new
// environment (after idle time, a deploy or concurrent calls) starts empty, which is acceptable for
// a non-production test double.
const store = new InMemoryProviderStore();
/**
 * The store and, when the provider secret is configured (always, as deployed), the credential
 * every route of the public function URL requires: the secret's current value, cached for a few
 * minutes (`secretString`), so a key put into the secret is the one required soon after.
 */
async function providerDependencies(): Promise<ProviderDependencies> {
  const { secretArn } = configurationFor(PAYMENT_PROVIDER_FUNCTION).providerSecret;
  if (!secretArn) return { store, logger };
  return { store, logger, credential: { key: await secretString(secretArn), scope: 'all' as const } };
}

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
