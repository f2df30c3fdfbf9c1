import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `AuthorizePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('AuthorizePayment', stepInput, (saga, input) =>
  saga.authorizePayment(input),
);
