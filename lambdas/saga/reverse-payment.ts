import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `ReversePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ReversePayment', stepInput, (saga, input) =>
  saga.reversePayment(input),
);
