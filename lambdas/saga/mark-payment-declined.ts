import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `MarkPaymentDeclined` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('MarkPaymentDeclined', stepInput, (saga, input) =>
  saga.markPaymentDeclined(input),
);
