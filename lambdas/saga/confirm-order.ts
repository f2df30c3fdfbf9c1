import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `ConfirmOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ConfirmOrder', stepInput, (saga, input) => saga.confirmOrder(input));
