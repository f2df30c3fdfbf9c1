import type { Sql } from 'postgres';
import type { BenchClient } from './api.js';
import type { BenchSizes } from './options.js';
import type { Progress } from './progress.js';
import type { BenchTarget } from './stack.js';

/** What every scenario works with. */
export interface BenchContext {
  readonly sizes: BenchSizes;
  readonly target: BenchTarget;
  readonly client: BenchClient;
  /** The bench's own pool on the stack's database (fixtures, timings, audit). */
  readonly sql: Sql;
  readonly progress: Progress;
  /**
   * Starts every SKU, customer id and Idempotency-Key this run creates, so that runs against
   * the same stack never collide or replay each other's requests.
   */
  readonly prefix: string;
  /** Stock each SKU this run created started with, for the no-oversell audit. */
  readonly initialStock: Record<string, number>;
}
