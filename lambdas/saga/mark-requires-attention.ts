import { z } from 'zod';
import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';
import { COMPENSATION_STEPS } from '../../src/saga/steps.js';

const input = stepInput.extend({
  compensationId: z.string().min(1).max(200),
  steps: z.array(z.enum(COMPENSATION_STEPS)).min(1),
  error: z.string().max(1000),
  cancellationReason: z.string().regex(/^[A-Z_]{1,64}$/),
});

/** Task state `MarkRequiresAttention` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('MarkRequiresAttention', input, (saga, event) =>
  saga.markRequiresAttention(event),
);
