import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Signer } from '@aws-sdk/rds-signer';
import type { Sql } from 'postgres';
import { type GroupValues, required } from '../config/declarations.js';
import { database, type paymentProvider, type providerSecret } from '../config/variables.js';
import { createSql } from '../db/client.js';
import { verifiedTls } from '../db/tls.js';
import { createHttpPaymentGateway, type HttpPaymentGateway } from '../payments/http-gateway.js';
import { perContainer } from '../runtime/per-container.js';
import { secretString } from '../runtime/secrets.js';
import { tracedClient, tracedMethods } from '../runtime/tracing.js';
import type { AwsClientSettings } from './configuration.js';

/**
 * What every composition root shares: the container's one pool, one payment gateway and one SDK
 * client per service, each built on first use from the configuration it is given.
 */

/**
 * A database pool from its configuration. In AWS: RDS Proxy with IAM authentication over TLS, a
 * fresh token signed for each new connection, the proxy's certificate verified (chain and host
 * name) before the token is sent. Locally and in tests: `url` as is.
 */
export function createDatabasePool(config: GroupValues<typeof database>): Sql {
  const max = config.poolMax;
  if (config.url) return createSql(config.url, { max });
  const { variables } = database;
  const hostname = required(variables.proxyEndpoint, config.proxyEndpoint);
  const username = required(variables.user, config.user);
  const name = required(variables.name, config.name);
  const region = required(variables.region, config.region);
  const signer = new Signer({ hostname, port: config.port, username, region });
  return createSql(`postgres://${encodeURIComponent(username)}@${hostname}:${config.port}/${name}`, {
    max,
    tls: verifiedTls(hostname),
    password: () => signer.getAuthToken(),
  });
}

/**
 * A payment gateway from its configuration. The credential: the Secrets Manager secret in AWS
 * (read once per container), the plain key locally, or none.
 */
export function createPaymentGateway(config: {
  readonly paymentProvider: GroupValues<typeof paymentProvider>;
  readonly providerSecret?: GroupValues<typeof providerSecret>;
}): HttpPaymentGateway {
  const secretArn = config.providerSecret?.secretArn;
  const { apiKey } = config.paymentProvider;
  const credential = secretArn ? () => secretString(secretArn) : apiKey ? async () => apiKey : undefined;
  return tracedMethods(
    createHttpPaymentGateway({
      baseUrl: config.paymentProvider.url,
      ...(credential ? { credential } : {}),
      timeoutMs: config.paymentProvider.timeoutMs,
      breaker: {
        failureThreshold: config.paymentProvider.breakerFailureThreshold,
        halfOpenAfterMs: config.paymentProvider.breakerHalfOpenAfterMs,
      },
    }),
    'PaymentGateway',
  );
}

/** The container's one pool, built from the configuration of its first call. */
export const containerPool = perContainer(createDatabasePool);

/** Ends the container's pool (local mode and tests, when they stop); the next use builds a new one. */
export async function endContainerPool(): Promise<void> {
  const pool = containerPool.built();
  containerPool.forget();
  await pool?.end({ timeout: 5 });
}

/**
 * The container's one payment gateway. One per container matters: the circuit breaker lives in
 * it, so every call of this container counts towards opening it.
 */
export const containerPaymentGateway = perContainer(createPaymentGateway);

function clientConfig(
  settings: AwsClientSettings,
  service: keyof NonNullable<AwsClientSettings['endpoints']>,
) {
  const endpoint = settings.endpoints?.[service];
  return {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

/** The container's SDK clients, traced; in AWS region and credentials come from the runtime. */
export const awsClients = {
  dynamoDb: perContainer((settings: AwsClientSettings) =>
    tracedClient(new DynamoDBClient(clientConfig(settings, 'dynamodb'))),
  ),
  sqs: perContainer((settings: AwsClientSettings) =>
    tracedClient(new SQSClient(clientConfig(settings, 'sqs'))),
  ),
  stepFunctions: perContainer((settings: AwsClientSettings) =>
    tracedClient(new SFNClient(clientConfig(settings, 'sfn'))),
  ),
  // The SDK waits for ever by default; a hung PutEvents would hold the relay's round past its lease.
  eventBridge: perContainer((settings: AwsClientSettings) =>
    tracedClient(
      new EventBridgeClient({
        ...clientConfig(settings, 'eventBridge'),
        requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
      }),
    ),
  ),
};
