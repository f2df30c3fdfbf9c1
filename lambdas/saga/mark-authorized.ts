import { z } from 'zod';
import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

const input = stepInput.extend({ authorizationId: z.string().min(1).max(200) });

/** Task state `MarkAuthorized` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('MarkAuthorized', input, (saga, event) => saga.markAuthorized(event));
