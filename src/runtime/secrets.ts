import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../config/declarations.js';
import { perContainer } from './per-container.js';
import { tracedClient } from './tracing.js';

const client = /* @__PURE__ */ perContainer(() => tracedClient(new SecretsManagerClient({})));
const cache = new Map<string, Promise<string>>();

/**
 * The current value of a Secrets Manager secret, fetched once per container and kept: a secret
 * read per request would add a network call and cost to each. A failed read is not kept, so the
 * next call tries again.
 */
export function secretString(secretId: string): Promise<string> {
  let value = cache.get(secretId);
  if (!value) {
    value = client()
      .send(new GetSecretValueCommand({ SecretId: secretId }))
      .then(({ SecretString }) => {
        if (!SecretString) throw new ConfigurationError(`secret ${secretId} has no string value`);
        return SecretString;
      });
    value.catch(() => cache.delete(secretId));
    cache.set(secretId, value);
  }
  return value;
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
