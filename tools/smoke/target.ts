import { randomBytes } from 'node:crypto';
import {
  AdminCreateUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createAdminClient, NodeSha256 } from '../ops/admin-client.js';
import { SmokeFailure, type SmokeTarget } from './checks.js';

/** The local stack's stand-in identities (README, "Local mode"). */
export const LOCAL_SMOKE_CUSTOMER = 'smoke-test';

/** The local stack (`npm start`): dev tokens for the customer, `Bearer admin` for the admin routes. */
export function localSmokeTarget(baseUrl: string): SmokeTarget {
  return {
    baseUrl,
    customerHeaders: async () => ({ authorization: `Bearer dev-${LOCAL_SMOKE_CUSTOMER}` }),
    admin: createAdminClient(baseUrl, { kind: 'local' }),
  };
}

/** Where a deployed stage keeps what the smoke test signs in with (its stacks' outputs). */
export interface AwsSmokeSettings {
  readonly region: string;
  /** Stateful output `UserPoolId`. */
  readonly userPoolId: string;
  /** Stateful output `SmokeTestClientId`: the client that allows ADMIN_USER_PASSWORD_AUTH. */
  readonly clientId: string;
  /** Stateless output `SmokeTestApiKeyId`. */
  readonly apiKeyId: string;
}

/** The smoke-test customer's user name: a reserved domain, so no mail can ever reach anyone. */
export const AWS_SMOKE_CUSTOMER = 'smoke-test@checkout.invalid';

/**
 * A deployed stage, with the caller's AWS credentials (the pipeline's smoke-test role): the admin
 * routes SigV4-signed, and the smoke-test customer signed in through Cognito's admin API. No
 * password is stored anywhere: each run sets a new random one (AdminSetUserPassword) and signs in
 * with it at once, so the only standing credential is the IAM permission to do so.
 */
export function awsSmokeTarget(baseUrl: string, settings: AwsSmokeSettings): SmokeTarget {
  const credentials = defaultProvider();
  return {
    baseUrl,
    admin: createAdminClient(baseUrl, { kind: 'sigv4', region: settings.region, credentials }),
    customerHeaders: async () => {
      const [idToken, apiKey] = await Promise.all([
        signInSmokeCustomer(settings, credentials),
        apiKeyValue(settings, credentials),
      ]);
      return { authorization: `Bearer ${idToken}`, 'x-api-key': apiKey };
    },
  };
}

type Credentials = ReturnType<typeof defaultProvider>;

async function signInSmokeCustomer(settings: AwsSmokeSettings, credentials: Credentials): Promise<string> {
  const cognito = new CognitoIdentityProviderClient({ region: settings.region, credentials });
  const pool = { UserPoolId: settings.userPoolId, Username: AWS_SMOKE_CUSTOMER };
  try {
    try {
      await cognito.send(
        new AdminCreateUserCommand({
          ...pool,
          MessageAction: 'SUPPRESS',
          UserAttributes: [
            { Name: 'email', Value: AWS_SMOKE_CUSTOMER },
            { Name: 'email_verified', Value: 'true' },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof UsernameExistsException)) throw error;
    }
    // The pool's policy wants upper and lower case, a digit and a symbol.
    const password = `${randomBytes(24).toString('base64url')}aA1!`;
    await cognito.send(new AdminSetUserPasswordCommand({ ...pool, Password: password, Permanent: true }));
    const { AuthenticationResult, ChallengeName } = await cognito.send(
      new AdminInitiateAuthCommand({
        UserPoolId: settings.userPoolId,
        ClientId: settings.clientId,
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: AWS_SMOKE_CUSTOMER, PASSWORD: password },
      }),
    );
    if (!AuthenticationResult?.IdToken) {
      throw new SmokeFailure(
        `signing in ${AWS_SMOKE_CUSTOMER}: Cognito answered ${ChallengeName ?? 'no token'}`,
      );
    }
    return AuthenticationResult.IdToken;
  } catch (error) {
    if (error instanceof SmokeFailure) throw error;
    throw new SmokeFailure(`signing in ${AWS_SMOKE_CUSTOMER}: ${describeAwsError(error)}`, { cause: error });
  } finally {
    cognito.destroy();
  }
}

/** The key's value, from API Gateway's management API (GetApiKey with includeValue), SigV4-signed. */
async function apiKeyValue(settings: AwsSmokeSettings, credentials: Credentials): Promise<string> {
  const url = new URL(
    `https://apigateway.${settings.region}.amazonaws.com/apikeys/${encodeURIComponent(settings.apiKeyId)}?includeValue=true`,
  );
  const signer = new SignatureV4({
    service: 'apigateway',
    region: settings.region,
    credentials,
    sha256: NodeSha256,
  });
  try {
    const signed = await signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { accept: 'application/json', host: url.host },
    });
    const { host: _host, ...headers } = signed.headers;
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
    const body = (await response.json()) as { value?: unknown; message?: unknown };
    if (!response.ok || typeof body.value !== 'string') {
      throw new SmokeFailure(
        `API key ${settings.apiKeyId}: ${response.status} ${String(body.message ?? '')}`,
      );
    }
    return body.value;
  } catch (error) {
    if (error instanceof SmokeFailure) throw error;
    throw new SmokeFailure(`API key ${settings.apiKeyId}: ${describeAwsError(error)}`, { cause: error });
  }
}

function describeAwsError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
