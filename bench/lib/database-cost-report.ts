import { APPLICATION_ROLE } from '../../src/db/roles.js';
import type {
  ContentionProbe,
  LoadAb,
  NewBackendCost,
  ProtocolCost,
  StatementCpu,
} from '../scenarios/cost-decomposition.js';
import type { RoundTripAb } from '../scenarios/round-trip-ab.js';
import type { DatabaseCost, SingleStatementReference } from './database-cost.js';
import type { PostgresProcessCpu } from './postgres-processes.js';
import { round } from './stats.js';

/** What the cost run measures besides the window (bench/checkout-cost.ts). */
export interface CostDecompositionExtras {
  readonly warmUp?: { readonly checkouts: number; readonly processes: PostgresProcessCpu };
  readonly protocol?: ProtocolCost;
  readonly newBackend?: NewBackendCost;
  readonly roundTripAb?: RoundTripAb;
  readonly vacuumMsPerCheckout?: number;
  readonly loadAb?: LoadAb;
  readonly statementCpu?: StatementCpu;
}

/** PostgreSQL's CPU per checkout by process, as table rows. */
export function processRows(processes: PostgresProcessCpu, checkouts: number): string[] {
  const per = (ms: number) => round(ms / checkouts, 3);
  return [
    '| process | processes (started in the window) | CPU ms per checkout | of which by processes started in the window |',
    '|---|---:|---:|---:|',
    ...processes.groups.map(
      (g) =>
        `| ${g.label} | ${g.processes} (${g.startedInWindow}) | ${per(g.cpuMs)} | ${per(g.startedInWindowCpuMs)} |`,
    ),
    `| postmaster | 1 | ${per(processes.postmasterMs)} | |`,
    `| ended in the window, after their last sample | | ${per(processes.endedUnsampledMs)} | |`,
    `| **all of PostgreSQL** (the bench's own connections left out) | | **${per(processes.totalMs)}** | |`,
  ];
}

/** The gap between one connection and the stack's load, line by line. */
export function decompositionLines(
  cost: DatabaseCost & {
    readonly processes?: PostgresProcessCpu;
    readonly contention?: ContentionProbe;
  },
  extras: CostDecompositionExtras,
): string[] {
  const lines: string[] = [];
  const { processes, contention } = cost;
  const per = (ms: number) => round(ms / cost.checkouts, 3);
  if (processes) {
    const started = processes.groups.reduce((sum, g) => sum + g.startedInWindowCpuMs, 0);
    lines.push(
      `- All of PostgreSQL in the window: **${per(processes.totalMs)} ms** per checkout; ` +
        `of it ${per(started)} ms by processes that started in the window (new connections, autovacuum workers); ` +
        `steady state without them ${per(processes.totalMs - started)} ms.`,
    );
  }
  if (processes) {
    const backends = processes.groups
      .filter((g) => g.kind === 'client backend' && g.role === APPLICATION_ROLE)
      .reduce((sum, g) => sum + g.processes, 0);
    const statements = cost.roundTripsPerCheckout * cost.checkouts;
    if (backends > 0 && statements > 0)
      lines.push(
        `- Pace: the application role's ${backends} backends ran a top-level statement every ` +
          `${round((backends * processes.windowSeconds * 1000) / statements, 0)} ms each on average. Fewer, ` +
          'busier backends gain little: a statement that does not follow another on its core runs on cold caches ' +
          '(`bench/connection-spread.ts --pauses`, docs/capacity.md).',
      );
  }
  if (extras.warmUp) {
    const w = extras.warmUp;
    lines.push(
      `- The warm-up before the window (the stack's first ${w.checkouts} checkouts: every container and its ` +
        `connections new): ${round(w.processes.totalMs / w.checkouts, 3)} ms per checkout.`,
    );
  }
  const after = extras.roundTripAb?.variants.at(-1);
  if (after)
    lines.push(
      `- The same statements on one connection, nothing else running on it (${after.name}): ${after.backendCpuMs} ms.`,
    );
  if (extras.statementCpu) {
    const s = extras.statementCpu;
    lines.push(
      `- Statement by statement on one warm connection (${s.checkouts} checkouts): \`place_or_find_order\` ${s.placeOrFindOrderMs} ms, ` +
        `\`payment_step_view\` ${s.paymentStepViewMs} ms (twice), \`mark_authorized\` ${s.markAuthorizedMs} ms, ` +
        `\`capture_and_confirm\` ${s.captureAndConfirmMs} ms.`,
    );
  }
  if (extras.loadAb)
    lines.push(
      `- The same statements on one connection, alone and beside the stack's own checkouts at concurrency 4, ` +
        `interleaved blocks: ${extras.loadAb.aloneMs} ms alone, ${extras.loadAb.besideTheStackMs} ms beside the stack ` +
        `(×${round(extras.loadAb.besideTheStackMs / extras.loadAb.aloneMs, 2)}).`,
    );
  if (extras.vacuumMsPerCheckout !== undefined)
    lines.push(
      `- Vacuum debt: a VACUUM of the tables the window's checkouts wrote cost ${round(extras.vacuumMsPerCheckout, 3)} ms ` +
        'per checkout (autovacuum does it later; its one-minute naptime is longer than the window).',
    );
  if (contention)
    lines.push(
      `- Machine contention: \`select 1\` and \`select $1\` on one connection cost ${contention.underLoadUs} µs of ` +
        `backend CPU each while the stack's load ran, ${contention.aloneUs} µs alone: ×${contention.inflation}` +
        (after
          ? `; the one-connection checkout × that is ${round(after.backendCpuMs * contention.inflation, 2)} ms`
          : '') +
        `. The describe round trip in it: ${contention.describeRoundTripUnderLoadUs} µs under the load, ` +
        `${contention.describeRoundTripAloneUs} µs alone, ` +
        `${round((contention.describeRoundTripUnderLoadUs * cost.roundTripsPerCheckout) / 1000, 3)} ms per checkout under the load.`,
    );
  if (extras.protocol) {
    const p = extras.protocol;
    lines.push(
      `- Protocol: a statement with parameters (two round trips, postgres.js describes it first) ` +
        `${p.twoRoundTripsUs} µs, one without (one round trip) ${p.oneRoundTripUs} µs: ` +
        `the describe round trip costs ${p.describeRoundTripUs} µs, ` +
        `${round((p.describeRoundTripUs * cost.roundTripsPerCheckout) / 1000, 3)} ms per checkout at ` +
        `${cost.roundTripsPerCheckout} statements.`,
    );
  }
  if (extras.newBackend) {
    const n = extras.newBackend;
    lines.push(
      `- A new backend: connecting ${n.connectMs} ms, its first checkout's statements ${n.firstCheckoutMs} ms ` +
        `against ${n.warmCheckoutMs} ms on a warm connection (medians of ${n.connections}).`,
    );
  }
  return lines;
}

/** The decomposition of PostgreSQL's cost per checkout as Markdown (summary.md, the cost run). */
export function databaseCostSection(
  cost: DatabaseCost & {
    readonly reference: SingleStatementReference;
    readonly processes?: PostgresProcessCpu;
    readonly contention?: ContentionProbe;
  },
  extras: CostDecompositionExtras = {},
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
    `- CPU from /proc's 10 ms ticks (the table below has the scheduler's figures): application backends ` +
      `${cpu.applicationBackendsMs ?? 'n/a'} ms${perRoundTrip(cpu.applicationBackendsMs)}; ` +
      `all of PostgreSQL but the bench's own backends ${cpu.allPostgresMs ?? 'n/a'} ms${perRoundTrip(cpu.allPostgresMs)}.`,
    `- Single-statement reference, same run: \`select 1\` × ${ref.roundTrips} on one connection, ` +
      `${ref.backendCpuUs ?? 'n/a'} µs backend CPU and ${ref.execUs ?? 'n/a'} µs executor time per round trip ` +
      `(${ref.wallUs} µs wall at the client).`,
    ...(cost.processes
      ? ['', "Where PostgreSQL's CPU goes, by process:", '', ...processRows(cost.processes, cost.checkouts)]
      : []),
    ...(() => {
      const lines = decompositionLines(cost, extras);
      return lines.length > 0 ? ['', "From one connection to the stack's load:", '', ...lines] : [];
    })(),
    ...(cost.tables && cost.tables.length > 0
      ? [
          '',
          'Rows written per checkout, by table (a HOT update adds no index entry):',
          '',
          '| table | inserts | updates | of which HOT | deletes | autovacuum / autoanalyze runs |',
          '|---|---:|---:|---:|---:|---:|',
          ...cost.tables.map(
            (t) =>
              `| ${t.table} | ${t.insertsPerCheckout} | ${t.updatesPerCheckout} | ${t.hotUpdatesPerCheckout} | ${t.deletesPerCheckout} | ${t.autovacuums} / ${t.autoanalyzes} |`,
          ),
        ]
      : []),
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
