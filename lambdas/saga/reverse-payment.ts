import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `ReversePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ReversePayment', stepInput, (saga, input) =>
  saga.reversePayment(input),
);
