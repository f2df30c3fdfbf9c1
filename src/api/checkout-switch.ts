import { DynamoDBProvider } from '@aws-lambda-powertools/parameters/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SWITCH_MAX_AGE_SECONDS } from '../config/budget.js';
import { logger } from '../runtime/observability.js';
import type { Route } from './http.js';
import { requireCustomer } from './identity.js';
import { ProblemError } from './problems.js';

/**
 * The operators' checkout switch (docs/adr/0024-operator-console-and-kill-switches.md): an item of
 * the operator controls table, read through Powertools Parameters with a short cache, so an
 * operator stops new checkouts within seconds without a deploy.
 *
 * The table's layout is the contract between this reader, the CDK grant (one Query, on the
 * switches' partition only) and `npm run ops -- switch`, which writes it.
 */
export const OPERATOR_CONTROLS_KEY = 'id';
export const OPERATOR_CONTROLS_SORT_KEY = 'sk';
export const SWITCH_VALUE_ATTRIBUTE = 'value';
/** The partition of the switches; the operator log is another. */
export const SWITCHES_PARTITION = 'switches';
/** The operator log's partition: one item per operator action that concerns no single order. */
export const OPERATOR_LOG_PARTITION = 'log';
export const CHECKOUT_SWITCH = 'checkout';
export type SwitchValue = 'on' | 'off';

export interface CheckoutSwitch {
  /** Whether operators stopped new checkouts. */
  isPaused(): Promise<boolean>;
}

/**
 * The switch as the checkout function reads it: every switch of the partition in one query, kept
 * {@link SWITCH_MAX_AGE_SECONDS}. A read that fails keeps the last value read (on: checkout
 * continues, if none was ever read): the switch is a brake an operator pulls on purpose, and a
 * DynamoDB hiccup must not stop every sale by itself. An idempotency table out of reach answers
 * 503 anyway.
 */
export function parametersCheckoutSwitch(options: {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly maxAgeSeconds?: number;
}): CheckoutSwitch {
  const provider = new DynamoDBProvider({
    tableName: options.tableName,
    keyAttr: OPERATOR_CONTROLS_KEY,
    sortAttr: OPERATOR_CONTROLS_SORT_KEY,
    valueAttr: SWITCH_VALUE_ATTRIBUTE,
    awsSdkV3Client: options.client,
  });
  let last: SwitchValue = 'on';
  return {
    async isPaused() {
      try {
        const switches = await provider.getMultiple(SWITCHES_PARTITION, {
          maxAge: options.maxAgeSeconds ?? SWITCH_MAX_AGE_SECONDS,
        });
        const values = (switches ?? {}) as Record<string, unknown>;
        last = values[CHECKOUT_SWITCH] === 'off' ? 'off' : 'on';
      } catch (error) {
        logger.warn('the checkout switch could not be read; keeping the last value', {
          error,
          checkoutSwitch: last,
        });
      }
      return last === 'off';
    },
  };
}

/**
 * `POST /v1/checkout` behind the switch. It is read after authentication (a request without a
 * customer still gets its 401) and before anything else: while checkout is stopped nothing is
 * written, not an idempotency record, not an order, not a unit of the customer's limit.
 */
export function withCheckoutSwitch(route: Route, checkoutSwitch: CheckoutSwitch | undefined): Route {
  if (!checkoutSwitch) return route;
  return async (request) => {
    requireCustomer(request.event);
    if (await checkoutSwitch.isPaused()) {
      throw new ProblemError(
        'CHECKOUT_PAUSED',
        'New checkouts are paused by the operators. Nothing was written: retry later with the same Idempotency-Key.',
      );
    }
    return route(request);
  };
}
