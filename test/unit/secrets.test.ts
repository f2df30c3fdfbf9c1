import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { LOCAL_AWS_ENVIRONMENT } from '../../local/aws/local-account.js';
import { type LocalSecretsManager, startLocalSecretsManager } from '../../local/aws/secrets-manager.js';
import { SECRET_MAX_AGE_SECONDS } from '../../src/config/budget.js';

/** The per-container secret cache has a time limit (docs/adr/0020): a rotated key arrives by itself. */
describe('secrets read through the Secrets Manager wire protocol', () => {
  let secrets: LocalSecretsManager;
  beforeAll(async () => {
    secrets = await startLocalSecretsManager();
    Object.assign(process.env, LOCAL_AWS_ENVIRONMENT, { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await secrets?.close();
  });

  test('a value is kept for its maximum age, then read again; a fresh read skips the cache', async () => {
    const { freshSecretString, secretString } = await import('../../src/runtime/secrets.js');
    vi.useFakeTimers({ toFake: ['Date'] });
    const arn = secrets.putSecretValue('rotating-key', 'first');

    const first = await secretString(arn);
    secrets.putSecretValue('rotating-key', 'second');
    const cached = await secretString(arn);
    vi.advanceTimersByTime((SECRET_MAX_AGE_SECONDS + 1) * 1000);
    const expired = await secretString(arn);
    secrets.putSecretValue('rotating-key', 'third');
    const fresh = await freshSecretString(arn);

    expect([first, cached, expired, fresh]).toEqual(['first', 'first', 'second', 'third']);
    expect(secrets.reads('rotating-key')).toBe(3);
  });
});
