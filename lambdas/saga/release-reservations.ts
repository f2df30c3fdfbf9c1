import { sagaTaskHandler, stepInput } from '../../src/runtime/saga-task.js';

/** Task state `ReleaseReservations` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ReleaseReservations', stepInput, (saga, input) =>
  saga.releaseReservations(input),
);
