import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { OrderStore } from '../db/orders.js';
import { NO_FAULTS, type SideEffectFaults } from '../saga/faults.js';
import { PaymentSaga } from '../saga/steps.js';
import { databasePool } from './database.js';
import { logger, useCorrelationId } from './observability.js';
import { paymentGateway } from './payments.js';
import * as z from './schema.js';
import { annotate, clearAnnotations, tracedMethods } from './tracing.js';

/** The fields every saga task receives; steps that need more extend it. */
export const stepInput = z.looseObject({
  orderId: z.uuid(),
  correlationId: z.string().check(z.minLength(1), z.maxLength(200)),
});

/** Malformed task input: a bug in the state machine, not something a retry can fix. */
export class InvalidTaskInputError extends Error {
  override readonly name = 'InvalidTaskInputError';
}

let saga: PaymentSaga | undefined;
let injectedFaults: SideEffectFaults = NO_FAULTS;

/** The saga steps over this container's database pool and payment gateway, built on first use. */
export function paymentSaga(): PaymentSaga {
  saga ??= new PaymentSaga({
    orders: tracedMethods(new OrderStore(databasePool()), 'OrderStore'),
    payments: paymentGateway(),
    faults: { afterSideEffect: (effect, orderId) => injectedFaults.afterSideEffect(effect, orderId) },
  });
  return saga;
}

/**
 * Installs fault injection between provider side effects and their records for this process's
 * saga steps (task handlers and compensation worker alike). Only the local stack and the tests
 * call it; no deployed function does.
 */
export function injectSideEffectFaults(faults: SideEffectFaults): void {
  injectedFaults = faults;
}

/**
 * Wraps one saga step as a Lambda handler for a Step Functions Task state: validates the input,
 * puts the order's correlation id on every log line and lets errors through with their `name`,
 * which is what the state's Retry and Catch match on.
 */
export function sagaTaskHandler<TSchema extends z.ZodMiniType<z.infer<typeof stepInput>>, TResult>(
  step: string,
  schema: TSchema,
  run: (saga: PaymentSaga, input: z.infer<TSchema>) => Promise<TResult>,
) {
  const handle = async (event: unknown, _context: Context): Promise<TResult> => {
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      throw new InvalidTaskInputError(`${step}: invalid input: ${z.prettifyError(parsed.error)}`);
    }
    const input = parsed.data;
    useCorrelationId(input.correlationId);
    logger.appendKeys({ orderId: input.orderId, step });
    clearAnnotations();
    annotate({ orderId: input.orderId, correlationId: input.correlationId, step });
    try {
      const result = await run(paymentSaga(), input);
      logger.info('saga step succeeded');
      return result;
    } catch (error) {
      logger.warn('saga step failed', { error: error as Error });
      throw error;
    }
  };
  return middy(handle).use(injectLambdaContext(logger, { clearState: true }));
}
