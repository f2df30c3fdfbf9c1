import { sagaTaskHandler } from '../../src/roots/saga.js';
import { stepInput } from '../../src/saga/task-input.js';

/** Task state `ReleaseReservations` of statemachines/payment-saga.asl.json. */
export const handler = sagaTaskHandler('ReleaseReservations', stepInput, (saga, input) =>
  saga.releaseReservations(input),
);
