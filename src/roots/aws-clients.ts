import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { perContainer } from '../runtime/per-container.js';
import { tracedClient } from '../runtime/tracing.js';
import type { AwsClientSettings } from './configuration.js';

/**
 * What the composition roots share besides the pool (`database.ts`) and the gateway
 * (`payments.ts`): one SDK client per service and container. Each root module imports only what
 * its runtime uses, so a function's bundle carries nothing of the others.
 */

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

// The container's SDK clients, traced; in AWS region and credentials come from the runtime. One
// export each (and pure), so a bundle carries only the clients its function uses.

export const dynamoDbClient = /* @__PURE__ */ perContainer((settings: AwsClientSettings) =>
  tracedClient(new DynamoDBClient(clientConfig(settings, 'dynamodb'))),
);

export const sqsClient = /* @__PURE__ */ perContainer((settings: AwsClientSettings) =>
  tracedClient(new SQSClient(clientConfig(settings, 'sqs'))),
);

export const stepFunctionsClient = /* @__PURE__ */ perContainer((settings: AwsClientSettings) =>
  tracedClient(new SFNClient(clientConfig(settings, 'sfn'))),
);

/**
 * Step Functions for starting sagas (docs/adr/0019): one attempt (a throttle or a failure is handed
 * to the saga-start queue, never retried on the request path) that gives up after `timeoutMs`.
 */
export const sagaStartClient = /* @__PURE__ */ perContainer(
  (settings: AwsClientSettings, timeoutMs: number) =>
    tracedClient(
      new SFNClient({
        ...clientConfig(settings, 'sfn'),
        maxAttempts: 1,
        requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
      }),
    ),
);

/**
 * SQS for the saga-start queue: two attempts, each bounded, so that a queue out of reach costs a
 * checkout at most a few seconds before the sweeper is left to start its saga.
 */
export const sagaStartQueueClient = /* @__PURE__ */ perContainer((settings: AwsClientSettings) =>
  tracedClient(
    new SQSClient({
      ...clientConfig(settings, 'sqs'),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500 },
    }),
  ),
);

// The SDK waits for ever by default; a hung PutEvents would hold the relay's round past its lease.
export const eventBridgeClient = /* @__PURE__ */ perContainer((settings: AwsClientSettings) =>
  tracedClient(
    new EventBridgeClient({
      ...clientConfig(settings, 'eventBridge'),
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    }),
  ),
);
