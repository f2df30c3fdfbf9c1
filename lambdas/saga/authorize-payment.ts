import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `AuthorizePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('AuthorizePayment', stepInput, (saga, input) =>
  saga.authorizePayment(input),
);
