import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';
import * as z from '../../src/runtime/schema.js';

const input = z.extend(stepInput, { reason: z.string().check(z.regex(/^[A-Z_]{1,64}$/)) });

/** Task state `CancelOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('CancelOrder', input, (saga, event) => saga.cancelOrder(event));
