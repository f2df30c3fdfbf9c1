import { z } from 'zod';
import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

const input = stepInput.extend({ reason: z.string().regex(/^[A-Z_]{1,64}$/) });

/** Task state `CancelOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('CancelOrder', input, (saga, event) => saga.cancelOrder(event));
