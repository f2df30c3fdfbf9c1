import { readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { Sql } from 'postgres';
import { createSql } from '../../src/db/client.js';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { round } from './stats.js';

/**
 * What PostgreSQL spends on the checkouts of a measured window, decomposed (docs/capacity.md):
 * every statement the stack's role ran, from `pg_stat_statements` (calls, execution time, rows,
 * shared blocks), the CPU of the processes that ran them from /proc, and a single-statement
 * reference (`select 1` round trips on one connection) measured in the same run, so the costs can
 * be read as "so many round trips' worth" on whatever machine ran them.
 *
 * Counts (statements, round trips, rows, blocks per checkout) are exact on a loaded machine too.
 * Times are CPU or executor times of this machine at this moment: on a machine shared with other
 * work they are inflated, and the report says how loaded it was (`machine`).
 */
export interface DatabaseCost {
  readonly checkouts: number;
  /** Seconds the window lasted (from the first request to the last event published). */
  readonly windowSeconds: number;
  /** `pg_stat_statements` was loaded: without it only the CPU figures are there. */
  readonly statementStatistics: boolean;
  /** Round trips the stack sent per checkout: top-level statements of the application role. */
  readonly roundTripsPerCheckout: number;
  /** Per component (see {@link componentOf}): top-level calls and executor time per checkout. */
  readonly components: readonly ComponentCost[];
  /** Every top-level statement, most calls first. */
  readonly statements: readonly StatementCost[];
  /** The statements run inside the order functions (pg_stat_statements.track = all). */
  readonly nested: readonly StatementCost[];
  readonly cpu: {
    /** CPU of the backends serving the application role, per checkout (ms). */
    readonly applicationBackendsMs?: number;
    /** Every PostgreSQL process but the bench's own backends (WAL writer, checkpointer, autovacuum too). */
    readonly allPostgresMs?: number;
    /** Sessions the application role opened in the window: each one a backend start and a SCRAM exchange. */
    readonly sessionsOpened: number;
  };
  readonly reference?: SingleStatementReference;
  /** Rows written per checkout by table, and how many of the updates were HOT (no index touched). */
  readonly tables?: readonly TableWrites[];
  /** How busy the machine was: time figures from a loaded machine are upper bounds. */
  readonly machine: {
    readonly loadAverageBefore: number;
    readonly loadAverageAfter: number;
    readonly quiet: boolean;
  };
}

export interface TableWrites {
  readonly table: string;
  readonly insertsPerCheckout: number;
  readonly updatesPerCheckout: number;
  /** Heap-only updates: the new row version stayed on its page and no index entry was added. */
  readonly hotUpdatesPerCheckout: number;
  readonly deletesPerCheckout: number;
  /** Autovacuum and autoanalyze runs on the table in the window. */
  readonly autovacuums: number;
  readonly autoanalyzes: number;
}

export interface ComponentCost {
  readonly component: string;
  readonly callsPerCheckout: number;
  readonly execMsPerCheckout: number;
}

export interface StatementCost {
  readonly query: string;
  readonly component: string;
  readonly calls: number;
  readonly callsPerCheckout: number;
  /** Executor time per call (ms), nested statements included for a top-level call. */
  readonly meanExecMs: number;
  readonly execMsPerCheckout: number;
  readonly rowsPerCall: number;
  /** Shared blocks hit + read per call, and dirtied/written per checkout. */
  readonly sharedBlocksPerCall: number;
  readonly sharedBlocksDirtiedPerCheckout: number;
}

/** `select 1` round trips on one connection: the floor every statement pays. */
export interface SingleStatementReference {
  readonly roundTrips: number;
  /** Backend CPU per round trip (µs), from /proc. */
  readonly backendCpuUs?: number;
  /** Executor time per call (µs), from pg_stat_statements. */
  readonly execUs?: number;
  /** Client-side wall time per round trip (µs), loopback. */
  readonly wallUs: number;
}

/**
 * The part of the system a statement belongs to, from its text. `order_snapshot` alone is read by
 * three callers (the API before placing, AuthorizePayment and CapturePayment before their provider
 * calls, src/saga/steps.ts), which the text cannot tell apart.
 */
export function componentOf(query: string): string {
  const q = query.toLowerCase();
  if (/place_or_find_order|place_order\(/.test(q)) return 'checkout API (placeOrder)';
  if (q.includes('mark_authorized')) return 'AuthorizePayment';
  if (/mark_captured|confirm_order|capture_and_confirm/.test(q)) return 'CapturePayment';
  if (/order_snapshot|payment_step_view/.test(q)) return 'order reads (API, saga steps)';
  if (q.includes('outbox_events')) return 'outbox relay';
  if (q.includes('failed_compensations') || (q.includes('recovery_lease_until') && q.includes('stuck')))
    return 'sweeper';
  if (q.includes('recovery_lease_until')) return 'saga starter';
  if (/^select \$1$/.test(q.trim())) return 'readiness / ping';
  if (/^(begin|commit|rollback|set |show |discard|reset)/.test(q.trim()))
    return 'session and transaction control';
  return 'other';
}

interface StatementRow {
  queryid: string;
  toplevel: boolean;
  query: string;
  calls: number;
  total_exec_time: number;
  rows: number;
  shared_blks: number;
  shared_blks_dirtied: number;
}

interface Snapshot {
  readonly at: number;
  readonly statements: Map<string, StatementRow> | undefined;
  readonly applicationBackends: Map<number, number>;
  readonly benchBackends: Map<number, number>;
  readonly postgresSeconds: number | undefined;
  readonly sessions: number;
  readonly tables: Map<string, TableRow>;
}

interface TableRow {
  relname: string;
  ins: number;
  upd: number;
  hot: number;
  del: number;
  autovacuums: number;
  autoanalyzes: number;
}

async function tableRows(sql: Sql): Promise<Map<string, TableRow>> {
  const rows = await sql<TableRow[]>`
    select relname, n_tup_ins::float8 as ins, n_tup_upd::float8 as upd, n_tup_hot_upd::float8 as hot,
      n_tup_del::float8 as del, autovacuum_count::float8 as autovacuums, autoanalyze_count::float8 as autoanalyzes
    from pg_stat_user_tables
    where schemaname = 'public'
  `;
  return new Map(rows.map((row) => [row.relname, row]));
}

/**
 * Backends report their table statistics when they go idle, at most once a second: a snapshot
 * taken right after the work would miss the last second's rows.
 */
const STATISTICS_FLUSH_MS = 1_500;

/**
 * Makes the bench's own PostgreSQL collect statement statistics: `pg_stat_statements` preloaded,
 * nested statements tracked (the order functions' insides), then the server restarted so the
 * library loads. Only for a server the bench started (it restarts it); ALTER SYSTEM lands in
 * postgresql.auto.conf, which later restarts (the chaos mix) keep.
 */
export async function enableStatementStatistics(
  adminUrl: string,
  restart: () => Promise<void>,
): Promise<void> {
  const admin = createSql(adminUrl, { max: 1 });
  try {
    await admin`alter system set shared_preload_libraries = 'pg_stat_statements'`;
  } finally {
    await admin.end({ timeout: 5 });
  }
  await restart();
  // The library's own settings exist once it is loaded.
  const again = createSql(adminUrl, { max: 1 });
  try {
    await again`create extension if not exists pg_stat_statements`;
    await again`alter system set pg_stat_statements.track = 'all'`;
    await again`select pg_reload_conf()`;
  } finally {
    await again.end({ timeout: 5 });
  }
}

/** Whether `pg_stat_statements` can be read on this database. */
async function statementStatisticsAvailable(sql: Sql): Promise<boolean> {
  try {
    await sql`select 1 from pg_stat_statements limit 1`;
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a window: statement statistics and process CPU now. `stop()` takes them again and
 * returns the difference per checkout. `benchApplicationNames` name the bench's own connections,
 * whose backends are left out of the PostgreSQL total.
 */
export async function startDatabaseCostMeter(options: {
  readonly sql: Sql;
  readonly postgresPid?: number;
  readonly benchApplicationNames: readonly string[];
  readonly role?: string;
}): Promise<{ stop(checkouts: number): Promise<DatabaseCost> }> {
  const role = options.role ?? APPLICATION_ROLE;
  const withStatements = await statementStatisticsAvailable(options.sql);
  const loadAverageBefore = loadavg()[0] ?? 0;
  const take = async (): Promise<Snapshot> => ({
    at: performance.now(),
    statements: withStatements ? await statementRows(options.sql, role) : undefined,
    applicationBackends: await backendSeconds(options.sql, { role }),
    benchBackends: await backendSeconds(options.sql, { applicationNames: options.benchApplicationNames }),
    postgresSeconds: options.postgresPid ? await treeSeconds(options.postgresPid) : undefined,
    sessions: await sessionsOf(options.sql),
    tables: await tableRows(options.sql),
  });
  await new Promise((resolve) => setTimeout(resolve, STATISTICS_FLUSH_MS));
  const first = await take();
  return {
    async stop(checkouts) {
      await new Promise((resolve) => setTimeout(resolve, STATISTICS_FLUSH_MS));
      const last = await take();
      const loadAverageAfter = loadavg()[0] ?? 0;
      const per = (value: number) => round(value / checkouts, 4);
      const top: StatementCost[] = [];
      const nested: StatementCost[] = [];
      for (const [key, row] of last.statements ?? []) {
        const before = first.statements?.get(key);
        const calls = row.calls - (before?.calls ?? 0);
        if (calls <= 0) continue;
        const exec = row.total_exec_time - (before?.total_exec_time ?? 0);
        const cost: StatementCost = {
          query: row.query.replace(/\s+/g, ' ').trim().slice(0, 160),
          component: componentOf(row.query.replace(/\s+/g, ' ')),
          calls,
          callsPerCheckout: per(calls),
          meanExecMs: round(exec / calls, 4),
          execMsPerCheckout: per(exec),
          rowsPerCall: round((row.rows - (before?.rows ?? 0)) / calls, 2),
          sharedBlocksPerCall: round((row.shared_blks - (before?.shared_blks ?? 0)) / calls, 2),
          sharedBlocksDirtiedPerCheckout: per(row.shared_blks_dirtied - (before?.shared_blks_dirtied ?? 0)),
        };
        (row.toplevel ? top : nested).push(cost);
      }
      top.sort((a, b) => b.calls - a.calls);
      nested.sort((a, b) => b.execMsPerCheckout - a.execMsPerCheckout);
      const components = new Map<string, { calls: number; exec: number }>();
      for (const s of top) {
        const c = components.get(s.component) ?? { calls: 0, exec: 0 };
        c.calls += s.callsPerCheckout;
        c.exec += s.execMsPerCheckout;
        components.set(s.component, c);
      }
      const spent = (a: Map<number, number>, b: Map<number, number>) => {
        let seconds = 0;
        for (const [pid, s] of b) seconds += s - (a.get(pid) ?? 0);
        return seconds;
      };
      const benchSeconds = spent(first.benchBackends, last.benchBackends);
      const applicationSeconds = spent(first.applicationBackends, last.applicationBackends);
      const allSeconds =
        first.postgresSeconds !== undefined && last.postgresSeconds !== undefined
          ? last.postgresSeconds - first.postgresSeconds - benchSeconds
          : undefined;
      return {
        checkouts,
        windowSeconds: round((last.at - first.at) / 1000, 2),
        statementStatistics: withStatements,
        roundTripsPerCheckout: round(top.reduce((sum, s) => sum + s.calls, 0) / checkouts, 3),
        components: [...components]
          .map(([component, c]) => ({
            component,
            callsPerCheckout: round(c.calls, 3),
            execMsPerCheckout: round(c.exec, 4),
          }))
          .sort((a, b) => b.callsPerCheckout - a.callsPerCheckout),
        statements: top,
        nested,
        tables: [...last.tables.values()]
          .map((row) => {
            const before = first.tables.get(row.relname);
            const delta = (key: keyof Omit<TableRow, 'relname'>) => row[key] - (before?.[key] ?? 0);
            return {
              table: row.relname,
              insertsPerCheckout: per(delta('ins')),
              updatesPerCheckout: per(delta('upd')),
              hotUpdatesPerCheckout: per(delta('hot')),
              deletesPerCheckout: per(delta('del')),
              autovacuums: delta('autovacuums'),
              autoanalyzes: delta('autoanalyzes'),
            };
          })
          .filter((t) => t.insertsPerCheckout + t.updatesPerCheckout + t.deletesPerCheckout > 0)
          .sort(
            (a, b) =>
              b.insertsPerCheckout + b.updatesPerCheckout - (a.insertsPerCheckout + a.updatesPerCheckout),
          ),
        cpu: {
          ...(last.applicationBackends.size > 0
            ? { applicationBackendsMs: round((applicationSeconds * 1000) / checkouts, 3) }
            : {}),
          ...(allSeconds !== undefined ? { allPostgresMs: round((allSeconds * 1000) / checkouts, 3) } : {}),
          sessionsOpened: last.sessions - first.sessions,
        },
        machine: {
          loadAverageBefore: round(loadAverageBefore, 2),
          loadAverageAfter: round(loadAverageAfter, 2),
          quiet: Math.max(loadAverageBefore, loadAverageAfter) < 1,
        },
      };
    },
  };
}

/**
 * The single-statement reference: `roundTrips` sequential `select 1` on one fresh connection, its
 * backend's CPU from /proc and its executor time from pg_stat_statements. What a statement costs
 * at the least on this server, on this machine, in this run.
 */
export async function singleStatementReference(
  url: string,
  roundTrips: number,
): Promise<SingleStatementReference> {
  const applicationName = 'checkout-bench-reference';
  const sql = createSql(url, { max: 1, applicationName });
  try {
    const [{ pid } = { pid: 0 }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const withStatements = await statementStatisticsAvailable(sql);
    const execOf = async () => {
      if (!withStatements) return undefined;
      const [row] = await sql<{ calls: number; total: number }[]>`
        select coalesce(sum(calls), 0)::float8 as calls, coalesce(sum(total_exec_time), 0)::float8 as total
        from pg_stat_statements
        where userid = (select usesysid from pg_user where usename = current_user)
          and query = 'select $1' and toplevel
      `;
      return row;
    };
    // Warm: the first statements of a session plan and cache.
    for (let i = 0; i < 50; i++) await sql`select 1`;
    const execBefore = await execOf();
    const cpuBefore = await processSeconds(pid);
    const started = performance.now();
    for (let i = 0; i < roundTrips; i++) await sql`select 1`;
    const wallUs = ((performance.now() - started) * 1000) / roundTrips;
    const cpuAfter = await processSeconds(pid);
    const execAfter = await execOf();
    return {
      roundTrips,
      ...(cpuBefore !== undefined && cpuAfter !== undefined
        ? { backendCpuUs: round(((cpuAfter - cpuBefore) * 1e6) / roundTrips, 2) }
        : {}),
      ...(execBefore && execAfter && execAfter.calls > execBefore.calls
        ? {
            execUs: round(
              ((execAfter.total - execBefore.total) * 1000) / (execAfter.calls - execBefore.calls),
              3,
            ),
          }
        : {}),
      wallUs: round(wallUs, 1),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function statementRows(sql: Sql, role: string): Promise<Map<string, StatementRow>> {
  const rows = await sql<StatementRow[]>`
    select queryid::text, toplevel, query, calls::float8 as calls, total_exec_time::float8 as total_exec_time,
      rows::float8 as rows, (shared_blks_hit + shared_blks_read)::float8 as shared_blks,
      shared_blks_dirtied::float8 as shared_blks_dirtied
    from pg_stat_statements
    where (toplevel and userid = (select usesysid from pg_user where usename = ${role}))
      -- Inside the order functions: they run as their owner (security definer), not as the role.
      or (not toplevel and query not like '%pg_stat_statements%')
  `;
  return new Map(rows.map((row) => [`${row.queryid}:${row.toplevel}`, row]));
}

async function sessionsOf(sql: Sql): Promise<number> {
  const [row] = await sql<{ sessions: number }[]>`
    select sessions::float8 as sessions from pg_stat_database where datname = current_database()
  `;
  return row?.sessions ?? 0;
}

/** CPU seconds of the backends of a role or an application name, by pid. */
async function backendSeconds(
  sql: Sql,
  filter: { role?: string; applicationNames?: readonly string[] },
): Promise<Map<number, number>> {
  const rows = filter.role
    ? await sql<{ pid: number }[]>`select pid from pg_stat_activity where usename = ${filter.role}`
    : await sql<{ pid: number }[]>`
        select pid from pg_stat_activity where application_name = any (${[...(filter.applicationNames ?? [])]}::text[])
      `;
  const seconds = new Map<number, number>();
  for (const { pid } of rows) {
    const s = await processSeconds(pid);
    if (s !== undefined) seconds.set(pid, s);
  }
  return seconds;
}

/** Kernel clock ticks per second for /proc times; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

async function stat(pid: number): Promise<{ ppid: number; seconds: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

async function processSeconds(pid: number): Promise<number | undefined> {
  return (await stat(pid))?.seconds;
}

/** CPU seconds of a process and all its descendants alive now (PostgreSQL: the postmaster's tree). */
async function treeSeconds(root: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const all = new Map<number, { ppid: number; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = await stat(Number(entry));
    if (s) all.set(Number(entry), s);
  }
  const tree = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, info] of all) {
      if (!tree.has(pid) && tree.has(info.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let seconds = 0;
  for (const pid of tree) seconds += all.get(pid)?.seconds ?? 0;
  return seconds;
}

/**
 * All of PostgreSQL's CPU per checkout in the steady-state window: the scheduler's figure of every
 * process (bench/lib/postgres-processes.ts) when the run has it, else the older /proc tick totals.
 */
export function postgresCpuPerCheckout(
  database: (DatabaseCost & { readonly processes?: { readonly totalMs: number } }) | undefined,
): number | undefined {
  if (!database) return undefined;
  if (database.processes) return round(database.processes.totalMs / database.checkouts, 3);
  return database.cpu.allPostgresMs ?? database.cpu.applicationBackendsMs;
}
