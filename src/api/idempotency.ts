import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** docs/openapi.yaml: idempotency records of `POST /v1/checkout` are kept 24 hours. */
export const CHECKOUT_IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60;

/**
 * Prefix of the record keys (`checkout.place-order#<hash>`). Fixed rather than Powertools' default
 * (the Lambda function name), so that renaming or splitting the function, or calling the
 * use case outside Lambda (the tests), addresses the same records.
 */
export const CHECKOUT_IDEMPOTENCY_KEY_PREFIX = 'checkout.place-order';

/** The Powertools pieces that make checkout idempotent, built once per container. */
export interface CheckoutIdempotency {
  readonly persistenceStore: BasePersistenceLayer;
  readonly config: IdempotencyConfig;
  readonly keyPrefix: string;
}

export interface CheckoutIdempotencyOptions {
  /** The client of the idempotency table. */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** @default CHECKOUT_IDEMPOTENCY_EXPIRY_SECONDS */
  readonly expiresAfterSeconds?: number;
}

/**
 * Powertools idempotency for checkout, on the DynamoDB table (partition key `id`, TTL on
 * `expiration`).
 *
 * - Key: the customer and the Idempotency-Key header (`[customerId, idempotencyKey]`), so two
 *   customers can never collide on a key.
 * - Payload validation: the validated request body (`request`); the same key with another body is
 *   refused (`IdempotencyValidationError` → 422 `IDEMPOTENCY_KEY_REUSED`). Powertools sorts object
 *   members before hashing, so member order does not count as a different body.
 * - In flight: a duplicate that arrives while the first still runs gets
 *   `IdempotencyAlreadyInProgressError` (→ 409 with Retry-After). The in-progress lock lasts the
 *   invocation's remaining time, from the Lambda context registered on every request.
 * - Only returned values are stored: a thrown (transient) failure deletes the in-progress record so
 *   a retry runs again.
 */
export function createCheckoutIdempotency(options: CheckoutIdempotencyOptions): CheckoutIdempotency {
  return {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
    }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: '[customerId, idempotencyKey]',
      payloadValidationJmesPath: 'request',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: options.expiresAfterSeconds ?? CHECKOUT_IDEMPOTENCY_EXPIRY_SECONDS,
      hashFunction: 'sha256',
      // Replays are marked so the handler can count them and tell the client. Checkout stores only
      // its responses, which are objects.
      responseHook: (response) => ({ ...(response as Record<string, JSONValue>), replayed: true }),
    }),
    keyPrefix: CHECKOUT_IDEMPOTENCY_KEY_PREFIX,
  };
}
