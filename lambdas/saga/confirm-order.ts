import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `ConfirmOrder` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ConfirmOrder', stepInput, (saga, input) => saga.confirmOrder(input));
