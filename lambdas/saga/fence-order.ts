import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `FenceOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('FenceOrder', stepInput, (saga, input) => saga.fenceOrder(input));
