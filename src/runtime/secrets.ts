import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SECRET_MAX_AGE_SECONDS } from '../config/budget.js';
import { ConfigurationError } from '../config/declarations.js';
import { perContainer } from './per-container.js';
import { tracedClient } from './tracing.js';

/**
 * Secrets Manager through Powertools Parameters: a value is cached per container for
 * {@link SECRET_MAX_AGE_SECONDS}, not for the container's life, so a rotated secret reaches every
 * container within that time (docs/adr/0020); a read per request would add a network call and
 * cost to each. A failed read is not cached, so the next call tries again.
 */
const provider = /* @__PURE__ */ perContainer(
  () => new SecretsProvider({ awsSdkV3Client: tracedClient(new SecretsManagerClient({})) }),
);

/** The current value of a Secrets Manager secret, at most `maxAgeSeconds` old. */
export async function secretString(
  secretId: string,
  options: { readonly maxAgeSeconds?: number; readonly forceFetch?: boolean } = {},
): Promise<string> {
  const value = await provider().get(secretId, {
    maxAge: options.maxAgeSeconds ?? SECRET_MAX_AGE_SECONDS,
    ...(options.forceFetch ? { forceFetch: true } : {}),
  });
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(`secret ${secretId} has no string value`);
  }
  return value;
}

/**
 * The secret read again now, whatever the cache holds: for a caller whose credential was just
 * refused (a rotated key), so it retries with the current value instead of waiting out the cache.
 */
export function freshSecretString(secretId: string): Promise<string> {
  return secretString(secretId, { forceFetch: true });
}

/** A string member of a JSON secret, e.g. the `password` of a database secret. */
export async function secretField(secretId: string, field: string): Promise<string> {
  const parsed: unknown = JSON.parse(await secretString(secretId));
  const value = (parsed as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(`secret ${secretId} has no "${field}"`);
  }
  return value;
}
