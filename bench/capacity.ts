/**
 * `npm run capacity [-- <results.json>]`: writes docs/capacity.md's table from a run's measured
 * costs (bench/results/checkout-cost.json from `npm run bench:cost` by default, or a full run's
 * results.json), AWS's quotas and the instance prices (bench/capacity-inputs.json) and the service
 * prices (bench/prices.json). Only the section between the table markers changes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CapacityInputs, capacityMarkdown, capacityModel, replaceTable } from './lib/capacity.js';
import { loadPrices } from './lib/cost.js';
import type { CostResult } from './scenarios/cost.js';

const file = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, 'results', 'checkout-cost.json'));
const run = JSON.parse(readFileSync(file, 'utf8')) as {
  cost?: CostResult;
  scenarios?: { cost?: CostResult };
  meta?: { runId?: string; mode?: string };
  startedAt?: string;
};
const cost = run.cost ?? run.scenarios?.cost;
if (!cost) {
  console.error(`${file} has no cost scenario`);
  process.exit(1);
}
const inputs = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'capacity-inputs.json'), 'utf8'),
) as CapacityInputs;
const prices = loadPrices();
const label = run.meta?.runId
  ? `${run.meta.mode} run ${run.meta.runId}`
  : `the cost run of ${run.startedAt ?? 'an unknown date'} (${cost.happy.usage.checkouts} checkouts)`;
const model = capacityModel(cost, inputs, prices);
const doc = path.join(import.meta.dirname, '..', 'docs', 'capacity.md');
writeFileSync(
  doc,
  replaceTable(readFileSync(doc, 'utf8'), capacityMarkdown(model, { label, cost, inputs, prices })),
);
console.log(`docs/capacity.md: table written from ${path.relative(process.cwd(), file)}`);
