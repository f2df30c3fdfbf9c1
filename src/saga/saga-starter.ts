/** What every payment saga execution starts with (the state machine's input). */
export interface SagaInput {
  readonly orderId: string;
  readonly correlationId: string;
  /** 0 when store credit pays the whole order: the saga then skips the card steps. */
  readonly chargeCents: number;
}

/**
 * Starts the payment saga of an order. The execution is named by the order id, so there is
 * exactly one per order: starting it again is not an error and starts nothing.
 */
export interface SagaStarter {
  start(input: SagaInput): Promise<{ readonly alreadyStarted: boolean }>;
}

/**
 * The saga could not be started now (a throttle, a timeout, the service unreachable): the order is
 * kept, and its start is handed to the {@link SagaStartBuffer} or left to the sweeper.
 */
export class SagaStartError extends Error {
  override readonly name = 'SagaStartError';
}

/**
 * Where a saga start that could not be made now waits to be made later, at a rate the Step
 * Functions quota allows (docs/adr/0019): the saga-start queue, drained by the saga starter.
 */
export interface SagaStartBuffer {
  enqueue(input: SagaInput): Promise<void>;
}

/** Where an order's saga execution is, as the crash-recovery sweeper needs to know it. */
export type SagaExecutionState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'NOT_FOUND';

/** Reads the state of an order's saga execution (named by the order id). */
export interface SagaInspector {
  executionState(orderId: string): Promise<SagaExecutionState>;
}
