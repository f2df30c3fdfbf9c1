import { sagaTaskHandler } from '../../src/roots/saga.js';
import * as z from '../../src/runtime/schema.js';
import { stepInput } from '../../src/saga/task-input.js';

const input = z.extend(stepInput, { reason: z.string().check(z.regex(/^[A-Z_]{1,64}$/)) });

/** Task state `CancelOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('CancelOrder', input, (saga, event) => saga.cancelOrder(event));
