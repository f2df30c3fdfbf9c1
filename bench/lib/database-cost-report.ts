import type { DatabaseCost, SingleStatementReference } from './database-cost.js';
import { round } from './stats.js';

/** The decomposition of PostgreSQL's cost per checkout as Markdown (summary.md, the cost run). */
export function databaseCostSection(
  cost: DatabaseCost & { readonly reference: SingleStatementReference },
): string[] {
  const { reference: ref, cpu, machine } = cost;
  const perRoundTrip = (ms: number | undefined) =>
    ms !== undefined && ref.backendCpuUs
      ? ` (${round((ms * 1000) / ref.backendCpuUs, 1)} single-statement round trips)`
      : '';
  const loaded = machine.quiet
    ? 'a quiet machine'
    : `a **loaded** machine (load average ${machine.loadAverageBefore} → ${machine.loadAverageAfter}): ` +
      'the counts are exact, the times are upper bounds';
  return [
    `### PostgreSQL per settled happy card checkout`,
    '',
    `${cost.checkouts} checkouts, from the first request to the last outbox event published ` +
      `(${cost.windowSeconds} s), taken on ${loaded}.`,
    '',
    `- Round trips (top-level statements of the application role): **${cost.roundTripsPerCheckout}** per checkout; ` +
      `sessions opened: ${cpu.sessionsOpened}.`,
    `- CPU: application backends ${cpu.applicationBackendsMs ?? 'n/a'} ms${perRoundTrip(cpu.applicationBackendsMs)}; ` +
      `all of PostgreSQL but the bench's own backends ${cpu.allPostgresMs ?? 'n/a'} ms${perRoundTrip(cpu.allPostgresMs)}.`,
    `- Single-statement reference, same run: \`select 1\` × ${ref.roundTrips} on one connection, ` +
      `${ref.backendCpuUs ?? 'n/a'} µs backend CPU and ${ref.execUs ?? 'n/a'} µs executor time per round trip ` +
      `(${ref.wallUs} µs wall at the client).`,
    ...(cost.statementStatistics
      ? [
          '',
          '| component | statements per checkout | executor ms per checkout |',
          '|---|---:|---:|',
          ...cost.components.map(
            (c) => `| ${c.component} | ${c.callsPerCheckout} | ${c.execMsPerCheckout} |`,
          ),
          '',
          '| statement (top level) | component | per checkout | ms per call | rows per call | shared blocks per call |',
          '|---|---|---:|---:|---:|---:|',
          ...cost.statements
            .slice(0, 20)
            .map(
              (s) =>
                `| \`${s.query.replace(/\|/g, '\\|')}\` | ${s.component} | ${s.callsPerCheckout} | ${s.meanExecMs} | ${s.rowsPerCall} | ${s.sharedBlocksPerCall} |`,
            ),
          '',
          'Inside the order functions (nested statements, the ten costliest per checkout):',
          '',
          '| statement (nested) | per checkout | ms per call | ms per checkout |',
          '|---|---:|---:|---:|',
          ...cost.nested
            .slice(0, 10)
            .map(
              (s) =>
                `| \`${s.query.replace(/\|/g, '\\|').slice(0, 100)}\` | ${s.callsPerCheckout} | ${s.meanExecMs} | ${s.execMsPerCheckout} |`,
            ),
        ]
      : ['', 'pg_stat_statements is not loaded on this server: no statement breakdown.']),
  ];
}
