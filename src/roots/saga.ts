import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { ConfigOf } from '../config/declarations.js';
import { SAGA_TASK_FUNCTION } from '../config/functions.js';
import { OrderStore } from '../db/orders.js';
import { withInvocationDeadline } from '../runtime/deadline.js';
import { logger, useCorrelationId } from '../runtime/observability.js';
import { perContainer } from '../runtime/per-container.js';
import * as z from '../runtime/schema.js';
import { annotate, clearAnnotations, tracedMethods } from '../runtime/tracing.js';
import { PaymentSaga } from '../saga/steps.js';
import { InvalidTaskInputError, type stepInput } from '../saga/task-input.js';
import { configurationFor } from './configuration.js';
import { containerPool } from './database.js';
import { containerPaymentGateway } from './payments.js';

/**
 * The composition root of the saga steps: the task handlers, the compensation worker and the
 * sweeper all run them over the container's pool and payment gateway.
 */

/** The saga steps from a configuration object (the groups a saga task declares). */
export function createPaymentSaga(config: ConfigOf<typeof SAGA_TASK_FUNCTION>): PaymentSaga {
  return new PaymentSaga({
    orders: tracedMethods(new OrderStore(containerPool(config.database)), 'OrderStore'),
    payments: containerPaymentGateway(config),
  });
}

/** The container's saga steps, from the configuration a saga task declares, built on first use. */
export const containerPaymentSaga = /* @__PURE__ */ perContainer(() =>
  createPaymentSaga(configurationFor(SAGA_TASK_FUNCTION)),
);

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
  const handle = async (event: unknown, context: Context): Promise<TResult> => {
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
      // Provider calls leave the invocation the time its records need (docs/adr/0020).
      const result = await withInvocationDeadline(context, () => run(containerPaymentSaga(), input));
      logger.info('saga step succeeded');
      return result;
    } catch (error) {
      logger.warn('saga step failed', { error: error as Error });
      throw error;
    }
  };
  return middy(handle).use(injectLambdaContext(logger, { clearState: true }));
}
