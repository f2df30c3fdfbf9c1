/** What a closed-loop run did: every task's result in task order, and how long the run took. */
export interface LoadRun<T> {
  readonly results: T[];
  readonly elapsedMs: number;
}

/**
 * A closed-loop load: `concurrency` workers take task indexes 0..count-1 in turn, each starting
 * its next task when the previous one answered. That is how a pool of clients behaves, and it
 * never queues more requests than there are workers (an open loop would measure the queue).
 */
export async function closedLoop<T>(options: {
  readonly count: number;
  readonly concurrency: number;
  readonly task: (index: number) => Promise<T>;
  readonly onProgress?: (done: number, total: number) => void;
}): Promise<LoadRun<T>> {
  const { count, concurrency, task, onProgress } = options;
  const results = new Array<T>(count);
  let next = 0;
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    for (let index = next++; index < count; index = next++) {
      results[index] = await task(index);
      done += 1;
      onProgress?.(done, count);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { results, elapsedMs: performance.now() - started };
}

/** Runs `task` on `concurrency` workers back to back until `durationMs` has passed; counts completions. */
export async function timedLoop(options: {
  readonly durationMs: number;
  readonly concurrency: number;
  readonly task: (worker: number, iteration: number) => Promise<unknown>;
}): Promise<{ readonly completed: number; readonly elapsedMs: number; readonly latenciesMs: number[] }> {
  const { durationMs, concurrency, task } = options;
  const started = performance.now();
  const deadline = started + durationMs;
  const latenciesMs: number[] = [];
  let completed = 0;
  const worker = async (id: number) => {
    for (let iteration = 0; performance.now() < deadline; iteration++) {
      const before = performance.now();
      await task(id, iteration);
      latenciesMs.push(performance.now() - before);
      completed += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id)));
  return { completed, elapsedMs: performance.now() - started, latenciesMs };
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitUntil(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

/** One request of a timed run: what it answered and how long the client waited for it. */
export interface TimedResult<T> {
  readonly result: T;
  /** From when the request was due (open loop) or sent (closed loop) to its answer. */
  readonly ms: number;
}

/**
 * A closed loop for a fixed time: `concurrency` clients, each sending its next request when the
 * previous one answered, until `durationMs` has passed (requests in flight then are waited for).
 */
export async function closedLoopFor<T>(options: {
  readonly durationMs: number;
  readonly concurrency: number;
  readonly task: (index: number) => Promise<T>;
}): Promise<LoadRun<TimedResult<T>>> {
  const { durationMs, concurrency, task } = options;
  const results: TimedResult<T>[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let next = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const result = await task(next++);
      results.push({ result, ms: performance.now() - sent });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { results, elapsedMs: performance.now() - started };
}

/**
 * An open loop: requests arrive at `ratePerSecond` for `durationMs` whether or not the earlier ones
 * have answered, as customers do. Each latency counts from when its request was due, not when the
 * generator got round to sending it, so a stalled system cannot hide its queue (coordinated
 * omission). `maxInFlight` bounds the requests outstanding at once; a request that finds the bound
 * reached waits for a slot, and that wait counts in its latency too.
 */
export async function openLoop<T>(options: {
  readonly ratePerSecond: number;
  readonly durationMs: number;
  readonly maxInFlight: number;
  readonly task: (index: number) => Promise<T>;
}): Promise<LoadRun<TimedResult<T>> & { readonly maxInFlightSeen: number }> {
  const { ratePerSecond, durationMs, maxInFlight, task } = options;
  const count = Math.floor((ratePerSecond * durationMs) / 1000);
  const results = new Array<TimedResult<T>>(count);
  const pending = new Set<Promise<void>>();
  let maxInFlightSeen = 0;
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const due = started + (index * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    while (pending.size >= maxInFlight) await Promise.race(pending);
    const request = task(index).then((result) => {
      results[index] = { result, ms: performance.now() - due };
      pending.delete(request);
    });
    pending.add(request);
    maxInFlightSeen = Math.max(maxInFlightSeen, pending.size);
  }
  await Promise.all(pending);
  return { results, elapsedMs: performance.now() - started, maxInFlightSeen };
}
