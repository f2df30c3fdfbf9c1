import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The invocation's deadline, for code that must not outlive it: the payment gateway shortens a
 * provider call so that the records after it still fit (docs/adr/0020). Kept per invocation in
 * async context, so invocations that share a process (the tests) keep their own.
 */
const deadlines = new AsyncLocalStorage<number>();

/** What a Lambda context tells of the time left. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/** Runs `work` with the invocation's deadline (now + the time the context has left) in scope. */
export function withInvocationDeadline<T>(context: RemainingTime, work: () => Promise<T>): Promise<T> {
  return deadlines.run(Date.now() + context.getRemainingTimeInMillis(), work);
}

/** Milliseconds left before the current invocation's deadline; `undefined` outside an invocation. */
export function invocationTimeLeftMs(): number | undefined {
  const deadline = deadlines.getStore();
  return deadline === undefined ? undefined : deadline - Date.now();
}
