import { sagaTaskHandler } from '../../src/roots/saga.js';
import * as z from '../../src/runtime/schema.js';
import { COMPENSATION_STEPS } from '../../src/saga/steps.js';
import { stepInput } from '../../src/saga/task-input.js';

const input = z.extend(stepInput, {
  compensationId: z.string().check(z.minLength(1), z.maxLength(200)),
  steps: z.array(z.enum(COMPENSATION_STEPS)).check(z.minLength(1)),
  error: z.string().check(z.maxLength(1000)),
  cancellationReason: z.string().check(z.regex(/^[A-Z_]{1,64}$/)),
});

/** Task state `MarkRequiresAttention` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('MarkRequiresAttention', input, (saga, event) =>
  saga.markRequiresAttention(event),
);
