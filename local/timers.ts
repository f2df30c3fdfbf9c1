/** A task running on a timer; `stop()` waits for a run in progress. */
export interface Repeating {
  stop(): Promise<void>;
}

/**
 * Runs `task` after `startAfterMs`, then again `intervalMs` after each run has ended: runs never
 * overlap and a slow run never leaves a backlog behind it. The signal passed to the task aborts when
 * `stop()` is called, so a long run can end early. Errors go to `onError` and the timer goes on.
 */
export function repeatEvery(
  intervalMs: number,
  task: (signal: AbortSignal) => Promise<unknown>,
  options: { readonly startAfterMs?: number; readonly onError?: (error: unknown) => void } = {},
): Repeating {
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();

  const run = () => {
    inFlight = task(stopping.signal)
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (!stopping.signal.aborted) timer = setTimeout(run, intervalMs);
      });
  };
  timer = setTimeout(run, options.startAfterMs ?? intervalMs);

  return {
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await inFlight;
    },
  };
}
