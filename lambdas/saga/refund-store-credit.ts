import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `RefundStoreCredit` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('RefundStoreCredit', stepInput, (saga, input) =>
  saga.refundStoreCredit(input),
);
