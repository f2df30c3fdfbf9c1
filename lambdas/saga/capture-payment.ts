import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `CapturePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('CapturePayment', stepInput, (saga, input) =>
  saga.capturePayment(input),
);
