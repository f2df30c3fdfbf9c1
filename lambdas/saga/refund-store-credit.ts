import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `RefundStoreCredit` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('RefundStoreCredit', stepInput, (saga, input) =>
  saga.refundStoreCredit(input),
);
