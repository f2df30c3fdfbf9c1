import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigurationError } from '../../src/config/declarations.js';
import { defaultProvider } from '../../src/runtime/lambda-credentials.js';

/**
 * The credential provider the deployed bundles have instead of the SDK's default chain
 * (lib/constructs/function-bundling.ts): the environment the Lambda runtime sets, or a clear error.
 */
describe('Lambda credentials', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  function lambdaEnvironment(values: Partial<Record<string, string>>): void {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      vi.stubEnv(name, values[name]);
    }
  }

  test("with the execution role's session in the environment, those are the credentials", async () => {
    lambdaEnvironment({
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session',
    });

    const credentials = await defaultProvider()();

    expect(credentials).toMatchObject({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'session',
    });
  });

  test('a long-term key without a session token is used as it is', async () => {
    lambdaEnvironment({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });

    const credentials = await defaultProvider()();

    expect(credentials.accessKeyId).toBe('AKIAEXAMPLE');
    expect(credentials.sessionToken).toBeUndefined();
  });

  test('without credentials in the environment, the error names what is missing and where it comes from', async () => {
    lambdaEnvironment({ AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE' });
    const provider = defaultProvider();

    const missingSecret = provider();
    await expect(missingSecret).rejects.toBeInstanceOf(ConfigurationError);
    await expect(missingSecret).rejects.toThrow(
      /^no AWS credentials: AWS_SECRET_ACCESS_KEY not set\. The Lambda runtime sets them from the function's execution role/,
    );

    lambdaEnvironment({});
    await expect(provider()).rejects.toThrow(
      /^no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set\./,
    );
  });

  test("an SDK client given it as its default provider, as the bundles' clients are, signs with the environment's credentials", async () => {
    lambdaEnvironment({ AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    const client = new SQSClient({ region: 'us-east-1', credentialDefaultProvider: defaultProvider });

    const credentials = await client.config.credentials();

    expect(credentials).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret' });
    client.destroy();
  });
});
