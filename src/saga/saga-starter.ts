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

/** The saga could not be started; the order is kept and the sweeper will start it later. */
export class SagaStartError extends Error {
  override readonly name = 'SagaStartError';
}

/** Where an order's saga execution is, as the crash-recovery sweeper needs to know it. */
export type SagaExecutionState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'NOT_FOUND';

/** Reads the state of an order's saga execution (named by the order id). */
export interface SagaInspector {
  executionState(orderId: string): Promise<SagaExecutionState>;
}
