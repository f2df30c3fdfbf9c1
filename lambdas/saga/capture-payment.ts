import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `CapturePayment` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('CapturePayment', stepInput, (saga, input) =>
  saga.capturePayment(input),
);
