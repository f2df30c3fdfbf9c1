import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { logger } from '../runtime/observability.js';
import type { Route } from './http.js';
import { requireCustomer } from './identity.js';
import { ProblemError } from './problems.js';

/**
 * Per-customer limits (docs/runbooks/customer-rate-limits.md): a fixed one-minute window per
 * customer, counted with one conditional `UpdateItem` per request on a DynamoDB item keyed by
 * customer and window. The condition refuses the increment once a counter is at its limit, so a
 * refused request changes nothing, and DynamoDB TTL removes the items of past windows.
 */

/** The table's partition key and TTL attribute (`lib/constructs/customer-limits-table.ts`). */
export const LIMITS_KEY_ATTRIBUTE = 'id';
export const LIMITS_TTL_ATTRIBUTE = 'expiresAt';

const WINDOW_SECONDS = 60;
/** Items outlive their window a little, so a clock that is slightly behind still finds its item. */
const ITEM_LIFETIME_SECONDS = 2 * WINDOW_SECONDS;

/** Limits per customer and minute; an undefined limit is not enforced. */
export interface CustomerLimits {
  /** Every customer route counts here (POST /v1/checkout included). */
  readonly requestsPerMinute?: number;
  /** POST /v1/checkout only. */
  readonly checkoutsPerMinute?: number;
}

/** What a request spends: every customer request is a request, a checkout is also a checkout. */
export type LimitedAction = 'request' | 'checkout';

export type LimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface CustomerLimiterOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly limits: CustomerLimits;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Counts customers' requests per minute and says whether one more is allowed. */
export class CustomerLimiter {
  private readonly now: () => number;

  constructor(private readonly options: CustomerLimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Spends one request (and one checkout for a checkout) of the customer's current window, or
   * refuses when a limit is reached. A DynamoDB failure lets the request through with a warning:
   * the limits protect capacity, and refusing every customer while the table is unreachable
   * would be the outage they exist to prevent.
   */
  async consume(customerId: string, action: LimitedAction): Promise<LimitDecision> {
    const { requestsPerMinute, checkoutsPerMinute } = this.options.limits;
    const counters: { name: 'requests' | 'checkouts'; limit: number }[] = [];
    if (requestsPerMinute !== undefined) counters.push({ name: 'requests', limit: requestsPerMinute });
    if (action === 'checkout' && checkoutsPerMinute !== undefined) {
      counters.push({ name: 'checkouts', limit: checkoutsPerMinute });
    }
    if (counters.length === 0) return { allowed: true };

    const nowSeconds = this.now() / 1000;
    const windowStart = Math.floor(nowSeconds / WINDOW_SECONDS) * WINDOW_SECONDS;
    const retryAfterSeconds = Math.max(1, Math.ceil(windowStart + WINDOW_SECONDS - nowSeconds));
    const names: Record<string, string> = { '#expiresAt': LIMITS_TTL_ATTRIBUTE };
    const values: Record<string, { N: string }> = {
      ':one': { N: '1' },
      ':expiresAt': { N: String(windowStart + ITEM_LIFETIME_SECONDS) },
    };
    for (const { name, limit } of counters) {
      names[`#${name}`] = name;
      values[`:${name}Limit`] = { N: String(limit) };
    }
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: { [LIMITS_KEY_ATTRIBUTE]: { S: `${customerId}#${windowStart}` } },
          UpdateExpression: `SET #expiresAt = :expiresAt ADD ${counters.map(({ name }) => `#${name} :one`).join(', ')}`,
          ConditionExpression: counters
            .map(({ name }) => `(attribute_not_exists(#${name}) OR #${name} < :${name}Limit)`)
            .join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return { allowed: true };
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
        return { allowed: false, retryAfterSeconds };
      }
      logger.warn('customer limits not checked: the limits table is unavailable', { error: error as Error });
      return { allowed: true };
    }
  }
}

/** True when at least one limit is set. */
export function hasLimits(limits: CustomerLimits): boolean {
  return limits.requestsPerMinute !== undefined || limits.checkoutsPerMinute !== undefined;
}

/**
 * A customer route behind the customer's limits: the caller is authenticated, then one request
 * (and for `checkout` one checkout) is spent, and only then does the route run. Over a limit the
 * request ends with 429 `RATE_LIMITED` and `Retry-After` (seconds until the window ends) before
 * anything is read or written. Without a limiter the route runs as is.
 */
export function withCustomerLimits(
  route: Route,
  limiter: Pick<CustomerLimiter, 'consume'> | undefined,
  action: LimitedAction,
): Route {
  if (!limiter) return route;
  return async (request) => {
    const customerId = requireCustomer(request.event);
    const decision = await limiter.consume(customerId, action);
    if (!decision.allowed) {
      throw new ProblemError(
        'RATE_LIMITED',
        "This customer's limit for the current minute is reached. Retry after the delay in Retry-After.",
        {},
        { retryAfterSeconds: decision.retryAfterSeconds },
      );
    }
    return route(request);
  };
}
