import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { latencyChart } from './chart.js';
import type { BenchResults } from './results.js';
import { summaryMarkdown } from './summary.js';

/** Writes results.json, summary.md and latency.svg into `outDir`. */
export async function writeOutputs(outDir: string, results: BenchResults): Promise<void> {
  const { hotSku: hot, spread, chaos: chaosResult } = results.scenarios;
  const series = [
    { label: `POST, hot SKU c${hot.concurrency}`, summary: hot.post, distribution: hot.postDistribution },
    ...spread.runs.map((run) => ({
      label: `POST, spread c${run.concurrency}`,
      summary: run.post,
      distribution: run.postDistribution,
    })),
    ...spread.runs
      .filter((run) => run.concurrency > 1)
      .map((run) => ({
        label: `to CONFIRMED, spread c${run.concurrency}`,
        summary: run.postToConfirmed,
        distribution: run.postToConfirmedDistribution,
      })),
    {
      label: `POST, chaos mix c${chaosResult.concurrency}`,
      summary: chaosResult.post,
      distribution: chaosResult.postDistribution,
    },
  ];
  await writeFile(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(path.join(outDir, 'summary.md'), summaryMarkdown(results));
  await writeFile(
    path.join(outDir, 'latency.svg'),
    latencyChart(series, {
      title: `Checkout latency, ${results.meta.mode} run ${results.meta.runId} (${results.meta.machine.cpus} cores)`,
      targetMs: 150,
    }),
  );
}
