import type { CheckoutRun } from '../scenarios/checkout-load.js';
import type { CostResult } from '../scenarios/cost.js';
import {
  cpuMsPerTransaction,
  type LoopResult,
  type PhysicalLimitResult,
} from '../scenarios/physical-limit.js';
import type { CheckoutUsage, CostBreakdown } from './cost.js';
import type { CpuUse } from './cpu.js';
import { databaseCostSection } from './database-cost-report.js';
import type { BenchResults } from './results.js';
import { kib } from './results.js';
import { type LatencySummary, round } from './stats.js';

/** results.json as Markdown: what a person reads first, with the chart beside it. */
export function summaryMarkdown(results: BenchResults): string {
  const { meta, scenarios, ratios, targets, audit } = results;
  const { hotSku, spread, loadProfile: load, physicalLimit: limit, roundTrips, bundles, chaos } = scenarios;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);

  push(
    `# Benchmark results (${meta.mode} run ${meta.runId})`,
    '',
    `${meta.startedAt}, ${meta.durationSeconds} s. ${meta.target.ownStack ? 'Own local stack (fresh data folder)' : `Running stack at ${meta.target.apiUrl}`}.`,
    `Machine: ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB, ${meta.machine.platform}, ` +
      `Node ${meta.machine.node}, PostgreSQL ${meta.machine.postgres}` +
      `${meta.machine.pgbench ? `, ${meta.machine.pgbench}` : ''}; load average ${meta.machine.loadAverageAtStart} at start.`,
    '',
    '![latency](latency.svg)',
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Invariant audit (after the chaos mix settled)',
    '',
    '| invariant | violations |',
    '|---|---:|',
    ...audit.reports.map((r) => `| ${r.name} | ${r.violations === 0 ? '0' : `**${r.violations}**`} |`),
    '',
    `Audit ${audit.passed ? 'passed' : '**FAILED**'}: ${audit.violations} violation(s).`,
    '',
    '## 1. Hot SKU',
    '',
    `${hotSku.requests} concurrent checkouts of \`${hotSku.sku}\` with ${hotSku.stock} in stock: ` +
      `${hotSku.accepted} accepted, ${hotSku.outOfStock} OUT_OF_STOCK ` +
      `(${hotSku.acceptedEqualsStock ? 'accepted = stock' : '**accepted ≠ stock**'}); ` +
      `inventory afterwards on hand ${hotSku.finalInventory.onHand}, reserved ${hotSku.finalInventory.reserved}.`,
    '',
    ...runTable([{ label: `hot SKU, ${hotSku.concurrency} at once`, run: hotSku }]),
    '',
    '## 2. Spread load',
    '',
    `1-line checkouts (pm_card_visa) over ${spread.skus} SKUs.`,
    '',
    ...runTable(spread.runs.map((run) => ({ label: `concurrency ${run.concurrency}`, run }))),
    '',
    ...cpuTable([
      { label: 'hot SKU', cpu: hotSku.cpu },
      ...spread.runs.map((run) => ({ label: `spread, concurrency ${run.concurrency}`, cpu: run.cpu })),
    ]),
    '',
    '## 8. Load profile',
    '',
    `1-line checkouts (pm_card_visa, a fresh key each) over ${load.skus} SKUs and ${load.customers} customers: ` +
      'a staged ramp of closed-loop clients, then a constant arrival rate (open loop; each latency counts ' +
      `from when its request was due). The most requests in flight at the constant rate: ${load.constantRate.maxInFlight}. ` +
      (load.lastConfirmedAfterMs === null
        ? 'No order of the constant rate was confirmed.'
        : `Its last order was CONFIRMED ${load.lastConfirmedAfterMs} ms after the end of the run` +
          `${load.unconfirmed > 0 ? `; **${load.unconfirmed} never were**` : ''}.`),
    '',
    '| phase | s | requests | accepted/s | POST p50 / p95 / p99 (ms) | errors | answers |',
    '|---|---:|---:|---:|---|---:|---|',
    ...[...load.ramp, load.constantRate].map(
      (phase) =>
        `| ${phase.label} | ${round(phase.durationMs / 1000, 1)} | ${phase.requests} | ${phase.acceptedPerSecond} | ` +
        `${phase.post.p50} / ${phase.post.p95} / ${phase.post.p99} | ${pct(phase.errorRate)} | ${inline(phase.statuses)} |`,
    ),
    '',
    ...cpuTable([...load.ramp, load.constantRate].map((phase) => ({ label: phase.label, cpu: phase.cpu }))),
    '',
    ...machineBound(load.constantRate.cpu),

    '## 3. Physical limit (same database, same run)',
    '',
    `${limit.connections} connections (the stack's handler pool, DB_POOL_MAX), ${limit.durationSeconds} s per loop; ` +
      `spread loops over ${limit.spreadRows} rows.`,
    '',
    '| loop | hot row (tps) | spread rows (tps) |',
    '|---|---:|---:|',
    `| single statement, postgres.js | ${limit.singleStatement.hotRow.tps} | ${limit.singleStatement.spreadRows.tps} |`,
    ...(limit.pgbench
      ? [
          `| single statement, pgbench (prepared) | ${limit.pgbench.hotRow.tps} | ${limit.pgbench.spreadRows.tps} |`,
        ]
      : []),
    `| checkout transaction (place_order), postgres.js | ${limit.checkoutTransaction.hotRow.tps} | ${limit.checkoutTransaction.spreadRows.tps} |`,
    `| one connection: single statement / checkout transaction | ${limit.uncontended.singleStatement.tps} / ${limit.uncontended.checkoutTransaction.tps} | |`,
    `| POST /v1/checkout end to end | ${hotSku.requestsPerSecond} | ${spread.runs.at(-1)?.requestsPerSecond ?? '-'} |`,
    '',
    `Ratios to the single statement: checkout transaction ${pct(ratios.hotCheckoutTransaction)} on the hot row ` +
      `(${ratios.hotCheckoutTransactionVsPgbench === undefined ? 'pgbench not run' : `${pct(ratios.hotCheckoutTransactionVsPgbench)} of pgbench`}), ` +
      `${pct(ratios.spreadCheckoutTransaction)} on spread rows; end to end ${pct(ratios.hotHttpCheckout)} (hot) and ` +
      `${pct(ratios.spreadHttpCheckout)} (spread). On one connection the single statement takes ` +
      `${limit.uncontended.singleStatement.latencyMs?.p50} ms and the checkout transaction ` +
      `${limit.uncontended.checkoutTransaction.latencyMs?.p50} ms (p50), a ratio of ${pct(ratios.uncontendedServiceTime)}. ` +
      'The single statement holds the row lock for all of its time; place_order takes the lock only at its end ' +
      '(migration 0006), so its hot-row rate is bound by database CPU per checkout more than by the lock.',
    '',
    ...loopCpuTable(limit),
    '',
    '## 4. Round trips and rows per checkout',
    '',
    '| cart lines | DB round trips (use case) | rows written | rows read | use case median (ms) |',
    '|---:|---:|---:|---:|---:|',
    ...roundTrips.carts.map(
      (c) =>
        `| ${c.cartLines} | ${[...new Set(c.roundTrips)].join(', ')} | ${c.totalRowsWritten} | ${c.rowsRead} | ${c.useCaseMs} |`,
    ),
    '',
    `Rows written by table (50 lines): ${describeRows(roundTrips.carts.at(-1)?.rowsWritten ?? {})}. ` +
      `Besides the database, each checkout request makes: ${Object.entries(roundTrips.otherCallsPerCheckout)
        .map(([call, n]) => `${n} × ${call}`)
        .join('; ')}.`,
    '',
    '## 5. Lambda bundles',
    '',
    `esbuild, ESM, minified, platform node, target node24, \`@aws-sdk/*\` external; cold import = median of ${bundles.importRuns} fresh processes (process start-up excluded), every handler once per round. ` +
      `Reference of the same rounds: ${bundles.referenceImportMs} ms to import the ${bundles.referenceModules.length} Node built-ins the bundles import, and nothing else. ` +
      `"as deployed" is the same entry bundled as lib/constructs/function-bundling.ts configures the functions (SDK bundled, docs/adr/0015).`,
    '',
    `| entry | minified | over ${kib(bundles.limitBytes)} | as deployed | cold import (ms) | as deployed (ms) | largest parts |`,
    '|---|---:|---|---:|---:|---:|---|',
    ...bundles.bundles.map(
      (b) =>
        `| ${b.entry} | ${kib(b.bytes)} | ${b.overLimit ? '**yes**' : 'no'} | ${kib(b.deployedBytes)} | ${b.coldImportMs} | ${b.deployedColdImportMs} | ` +
        `${b.largestInputs.map((i) => `${i.name} ${kib(i.bytes)}`).join(', ')} |`,
    ),
    '',
    '## 6. Chaos mix',
    '',
    `${chaos.checkouts} checkouts at concurrency ${chaos.concurrency} (seed ${chaos.seed}), ${chaos.requestsPerSecond}/s; ` +
      `${chaos.withStoreCredit} with store credit, ${chaos.duplicatesSent} sent twice at once.`,
    '',
    `- payment methods: ${inline(chaos.paymentMethods)}`,
    `- answers: ${inline(chaos.statuses)}; the copies of the requests sent twice: ${inline(chaos.duplicateAnswers)}`,
    `- faults: ${chaos.faults.map((f) => `${(f.atMs / 1000).toFixed(1)} s ${f.action}`).join('; ')}`,
    `- database faults injected: PostgreSQL restarts ${chaos.databaseFaults.restarts.fast} fast and ` +
      `${chaos.databaseFaults.restarts.immediate} immediate; ${chaos.databaseFaults.terminations.connections} ` +
      `connections terminated in ${chaos.databaseFaults.terminations.rounds} rounds; ` +
      `${chaos.databaseFaults.recordFailures.total} records failed after their side effect ` +
      `(rate ${chaos.databaseFaults.recordFailures.rate}: ${inline(chaos.databaseFaults.recordFailures.byEffect)})`,
    `- orders: ${inline(chaos.orders)}; cancellation reasons: ${inline(chaos.cancellationReasons)}`,
    `- final status by payment method: ${Object.entries(chaos.byPaymentMethod)
      .map(([method, statuses]) => `${method} (${inline(statuses)})`)
      .join('; ')}`,
    `- compensations queued by the saga: ${chaos.compensations.recorded}; gave up on (FAILED, in the DLQ): ` +
      `${chaos.dlq.failedBeforeRedrive} (${chaos.dlq.messagesBeforeRedrive} DLQ messages); redrives ${chaos.dlq.redrives}, ` +
      `messages moved ${chaos.dlq.moved}; resolved ${chaos.compensations.resolved}`,
    `- drained in ${(chaos.drainMs / 1000).toFixed(1)} s with the faults on, settled ${(chaos.settleMs / 1000).toFixed(1)} s ` +
      `after clearing them and redriving: ${chaos.settled ? 'settled' : '**not settled**'}`,
    '',
    ...runTable([
      {
        label: 'chaos mix POST',
        run: { post: chaos.post, requestsPerSecond: chaos.requestsPerSecond } as CheckoutRun,
      },
    ]).slice(0, 3),
    '',
    ...costSection(scenarios.cost),
  );
  return lines.join('\n');
}

/**
 * The load profile is not a target (docs/capacity.md turns the measured costs into what AWS carries):
 * what bounded it here is the machine, said with its busy cores.
 */
function machineBound(cpu: CpuUse | undefined): string[] {
  if (!cpu) return [];
  return [
    `Not a target: the seeds' load targets are production targets, answered from the costs per checkout in ` +
      `docs/capacity.md. Here the profile is bounded by this machine: at the constant rate ${cpu.machine} of its ` +
      `${cpu.cores} cores were busy (function containers ${cpu.functions}, stack process ${cpu.stackNode}, ` +
      `PostgreSQL ${cpu.postgres}, bench ${cpu.bench}, other work ${cpu.others}).`,
    '',
  ];
}

function costSection(cost: CostResult): string[] {
  const { happy, chaos } = cost;
  const usageRow = (label: string, u: CheckoutUsage) =>
    `| ${label} | ${u.apiRequests} | ${u.stateTransitions} | ${u.lambdaInvocations} (${u.sagaTaskInvocations} saga tasks) | ` +
    `${u.lambdaBilledMs} ms, ${u.coldStarts} cold starts | ${u.lambdaGbSeconds} | ${u.dynamodbWrites} / ${u.dynamodbReads} | ${u.sqsRequests} (+${u.sqsPolls} polls) | ${u.events} |`;
  const costTable = (columns: { label: string; breakdown: CostBreakdown }[]) => {
    const items = [...new Set(columns.flatMap((c) => c.breakdown.lines.map((line) => line.item)))];
    return [
      `| item | ${columns.map((c) => c.label).join(' | ')} |`,
      `|---|${columns.map(() => '---:').join('|')}|`,
      ...items.map(
        (item) =>
          `| ${item} | ${columns
            .map((c) => {
              const line = c.breakdown.lines.find((candidate) => candidate.item === item);
              return line ? `${line.quantity} → $${line.dollarsPerMillionCheckouts}` : '–';
            })
            .join(' | ')} |`,
      ),
      `| **per million checkouts** | ${columns.map((c) => `**$${c.breakdown.totalPerMillionCheckouts}**`).join(' | ')} |`,
    ];
  };
  return [
    '## 7. Cost per checkout',
    '',
    `Counted by the local stand-ins (local/usage.ts), per checkout; Lambda at ${cost.memoryMb} MB (arm64), durations as measured here. ` +
      `Prices of ${cost.prices.date} (${cost.prices.region}, bench/prices.json): ${cost.prices.source}`,
    '',
    '| phase | API requests | state transitions | Lambda invocations | Lambda billed duration | Lambda GB-s | DynamoDB writes / reads | SQS requests | events |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    usageRow(`happy card checkout (${happy.usage.checkouts})`, happy.usage),
    ...(chaos ? [usageRow(`chaos mix (per checkout sent, ${chaos.usage.checkouts})`, chaos.usage)] : []),
    '',
    'Quantity per checkout → dollars per million checkouts:',
    '',
    ...costTable([
      { label: 'happy, Standard (as built)', breakdown: happy.standard },
      { label: 'happy, Express (on paper)', breakdown: happy.express },
      { label: 'happy, durable function (on paper)', breakdown: happy.durable },
      ...(chaos ? [{ label: 'chaos mix, Standard', breakdown: chaos.standard }] : []),
    ]),
    '',
    `Express bills the saga's time per checkout; ${happy.executionMs} ms (median POST → CONFIRMED here) is used.`,
    '',
    ...(happy.database ? [...databaseCostSection(happy.database), ''] : []),
  ];
}

function runTable(
  rows: { label: string; run: Pick<CheckoutRun, 'post' | 'requestsPerSecond'> & Partial<CheckoutRun> }[],
) {
  const ms = (s: LatencySummary | undefined) => (s && s.count > 0 ? `${s.p50} / ${s.p95} / ${s.p99}` : '-');
  return [
    '| run | checkouts/s | POST p50 / p95 / p99 (ms) | POST → CONFIRMED p50 / p95 / p99 (ms) | answers |',
    '|---|---:|---|---|---|',
    ...rows.map(
      ({ label, run }) =>
        `| ${label} | ${run.requestsPerSecond} | ${ms(run.post)} | ${ms(run.postToConfirmed)} | ${run.statuses ? inline(run.statuses) : '-'} |`,
    ),
  ];
}

function cpuTable(rows: { label: string; cpu: CpuUse | undefined }[]) {
  const measured = rows.filter((r) => r.cpu);
  if (measured.length === 0) return ['(CPU use not measured: the stack is not a child of this run)'];
  return [
    `CPU while the POSTs ran, in cores (of ${measured[0]?.cpu?.cores}):`,
    '',
    '| run | stack Node process | function containers | its other processes | PostgreSQL | bench client | other work on the machine | whole machine |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...measured.map(
      ({ label, cpu }) =>
        `| ${label} | ${cpu?.stackNode} | ${cpu?.functions} | ${cpu?.otherChildren} | ${cpu?.postgres} | ${cpu?.bench} | ${cpu?.others} | ${cpu?.machine} |`,
    ),
  ];
}

function loopCpuTable(limit: PhysicalLimitResult): string[] {
  const loops: [string, LoopResult][] = [
    ['single statement, hot row', limit.singleStatement.hotRow],
    ['single statement, spread rows', limit.singleStatement.spreadRows],
    ...(limit.pgbench
      ? ([
          ['pgbench, hot row', limit.pgbench.hotRow],
          ['pgbench, spread rows', limit.pgbench.spreadRows],
        ] as [string, LoopResult][])
      : []),
    ['checkout transaction, hot row', limit.checkoutTransaction.hotRow],
    ['checkout transaction, spread rows', limit.checkoutTransaction.spreadRows],
  ];
  const measured = loops.filter(([, loop]) => loop.cpu);
  if (measured.length === 0) return [];
  return [
    'CPU during the loops, in cores (pgbench and its server processes, which end before the measurement does, count as other work):',
    '',
    '| loop | PostgreSQL | its backends | per transaction (ms) | bench client | other work on the machine | whole machine |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...measured.map(
      ([label, loop]) =>
        `| ${label} | ${loop.cpu?.postgres} | ${loop.ownBackendsCores ?? '-'} | ` +
        `${cpuMsPerTransaction(loop, loop.ownBackendsCores) ?? '-'} | ` +
        `${loop.cpu?.bench} | ${loop.cpu?.others} | ${loop.cpu?.machine} |`,
    ),
    '',
    "Its backends: the PostgreSQL processes serving the loop's own connections (by application_name); " +
      'PostgreSQL: all of it, with the stack pollers and the outbox relay publishing the orders placed.',
  ];
}

function describeRows(rows: Record<string, { inserted: number; updated: number; deleted: number }>): string {
  return Object.entries(rows)
    .map(
      ([table, t]) =>
        `${table} ${[t.inserted && `+${t.inserted}`, t.updated && `~${t.updated}`].filter(Boolean).join(' ')}`,
    )
    .join(', ');
}

function inline(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
}

function pct(value: number): string {
  return `${Math.round(value * 1000) / 10} %`;
}
