import path from 'node:path';
import { parseArgs } from 'node:util';
import type { TargetFlags } from './stack.js';

/** How big each scenario is. `--quick` shrinks every one of them; none is skipped. */
export interface BenchSizes {
  readonly hotSku: { readonly requests: number; readonly stock: number };
  /** Concurrency 1 is the service time without queueing; 16 and 64 are what the targets name. */
  readonly spread: { readonly skus: number; readonly runs: { concurrency: number; requests: number }[] };
  readonly physicalLimit: { readonly durationSeconds: number; readonly connections: number };
  readonly roundTrips: { readonly cartSizes: number[]; readonly repeats: number };
  readonly bundles: { readonly importRuns: number };
  /**
   * The plans' load profile: a ramp of closed-loop clients (`stageSeconds` each), then an open loop
   * at `ratePerSecond` for `rateSeconds`, over `skus` SKUs and `customers` customers.
   */
  readonly loadProfile: {
    readonly skus: number;
    readonly customers: number;
    readonly rampClients: number[];
    readonly stageSeconds: number;
    readonly ratePerSecond: number;
    readonly rateSeconds: number;
  };
  /** Happy card checkouts whose billed usage is counted (the chaos mix is counted too). */
  readonly cost: { readonly checkouts: number };
  readonly chaos: {
    readonly checkouts: number;
    readonly concurrency: number;
    readonly outageMs: number;
    /** How long the system may take to settle, before and after the redrive. */
    readonly settleTimeoutMs: number;
  };
}

export const FULL: BenchSizes = {
  hotSku: { requests: 200, stock: 100 },
  spread: {
    skus: 1000,
    runs: [
      { concurrency: 1, requests: 300 },
      { concurrency: 16, requests: 3000 },
      { concurrency: 64, requests: 3000 },
    ],
  },
  physicalLimit: { durationSeconds: 5, connections: 8 },
  roundTrips: { cartSizes: [1, 10, 50], repeats: 7 },
  bundles: { importRuns: 7 },
  loadProfile: {
    skus: 1000,
    customers: 1000,
    rampClients: [10, 50, 100],
    stageSeconds: 10,
    ratePerSecond: 300,
    rateSeconds: 30,
  },
  cost: { checkouts: 300 },
  chaos: { checkouts: 3000, concurrency: 32, outageMs: 4000, settleTimeoutMs: 180_000 },
};

export const QUICK: BenchSizes = {
  hotSku: { requests: 200, stock: 100 },
  spread: {
    skus: 1000,
    runs: [
      { concurrency: 1, requests: 40 },
      { concurrency: 16, requests: 160 },
      { concurrency: 64, requests: 160 },
    ],
  },
  physicalLimit: { durationSeconds: 1, connections: 8 },
  roundTrips: { cartSizes: [1, 10, 50], repeats: 2 },
  bundles: { importRuns: 1 },
  loadProfile: {
    skus: 100,
    customers: 100,
    rampClients: [10, 50, 100],
    stageSeconds: 1,
    ratePerSecond: 50,
    rateSeconds: 2,
  },
  cost: { checkouts: 30 },
  chaos: { checkouts: 300, concurrency: 16, outageMs: 2000, settleTimeoutMs: 60_000 },
};

export interface BenchOptions {
  readonly quick: boolean;
  readonly sizes: BenchSizes;
  /** Where results.json, summary.md and latency.svg go. */
  readonly outDir: string;
  readonly flags: TargetFlags;
}

export const USAGE = `usage: npm run bench -- [--quick] [--out <dir>]
                       [--target <apiUrl> [--provider-url <url>] [--database-url <url>] [--data-dir <dir>]]

  --quick           every scenario, smaller counts (under a minute)
  --out <dir>       results folder (default bench/results)
  --target <url>    benchmark a running local stack instead of starting one; its provider, database
                    and data folder default to PAYMENT_PROVIDER_URL, DATABASE_URL and LOCAL_DATA_DIR,
                    else to what npm start uses (.local-data, postgres on 127.0.0.1:5433)`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      target: { type: 'string' },
      'provider-url': { type: 'string' },
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    quick: values.quick ?? false,
    sizes: values.quick ? QUICK : FULL,
    outDir: path.resolve(values.out ?? path.join(import.meta.dirname, '..', 'results')),
    flags: {
      ...(values.target ? { target: values.target } : {}),
      ...(values['provider-url'] ? { providerUrl: values['provider-url'] } : {}),
      ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}),
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    },
  };
}
