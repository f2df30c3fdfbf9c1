import { type FromEnvInit, fromEnv } from '@aws-sdk/credential-provider-env';
import { ConfigurationError } from '../config/declarations.js';

/**
 * What the deployed bundles have instead of `@aws-sdk/credential-provider-node`, the SDK's default
 * credential chain (the bundling alias in `lib/constructs/function-bundling.ts`, docs/adr/0015).
 * Every SDK client's node runtime configuration imports that chain, and with it the clients and
 * parsers of every source it can try (profiles, SSO, web identity, processes, container and
 * instance metadata): about 90 KiB per bundle. A Lambda function needs none of them: the runtime
 * puts the execution role's session credentials in the environment, where the chain would look
 * first.
 */

/** The variables the Lambda runtime sets from the execution role and without which nothing signs. */
const REQUIRED = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/**
 * The chain's replacement, same name and signature: credentials from the environment (with
 * `AWS_SESSION_TOKEN` when set, as Lambda always sets it), or a {@link ConfigurationError} naming
 * the variables that are missing. The clients memoize what it returns, as they do the chain's.
 */
export const defaultProvider = (init: FromEnvInit = {}) => {
  const fromEnvironment = fromEnv(init);
  return async () => {
    const missing = REQUIRED.filter((name) => !process.env[name]);
    if (missing.length > 0) {
      throw new ConfigurationError(
        `no AWS credentials: ${missing.join(' and ')} not set. The Lambda runtime sets them from the ` +
          "function's execution role; this bundle reads credentials only from the environment " +
          '(docs/adr/0015-lambda-bundles-carry-only-what-lambda-runs.md)',
      );
    }
    return fromEnvironment();
  };
};
