import { readFile } from 'node:fs/promises';
import type { Sql } from 'postgres';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { round } from './stats.js';

/**
 * Where PostgreSQL's CPU goes, by process (docs/capacity.md, "The database's cost per checkout"): every
 * child of the postmaster followed through a measured window, its CPU from the scheduler
 * (`/proc/<pid>/schedstat`, nanoseconds on the CPU, not the 10 ms ticks of `/proc/<pid>/stat`),
 * its kind from its process title (client backend, autovacuum worker, WAL writer, checkpointer,
 * background writer...) and, for a client backend, its role and `application_name` from
 * `pg_stat_activity` (the local functions name their connections after themselves).
 *
 * The children are sampled every `intervalMs`, so a process that ends within the window (an
 * autovacuum worker, a connection closed) counts up to its last sample; what it spent after that
 * is in the postmaster's own account of its ended children (`cutime` + `cstime`), reported as
 * `endedUnsampled`.
 */
export interface ProcessCpu {
  /** A label: `backend <application_name>` for client backends, else the process kind. */
  readonly label: string;
  readonly kind: string;
  readonly role?: string;
  readonly applicationName?: string;
  readonly processes: number;
  /** Of those, how many started within the window (a new connection: fork, authentication, cold caches). */
  readonly startedInWindow: number;
  /** CPU of these processes in the window (ms). */
  readonly cpuMs: number;
  /** The part spent by the processes that started in the window (ms). */
  readonly startedInWindowCpuMs: number;
}

export interface PostgresProcessCpu {
  readonly windowSeconds: number;
  readonly groups: readonly ProcessCpu[];
  /** The postmaster itself (forking, supervision). */
  readonly postmasterMs: number;
  /** Ended children's CPU the samples did not see (from the postmaster's account of them). */
  readonly endedUnsampledMs: number;
  /** Everything above, the excluded application names' backends left out. */
  readonly totalMs: number;
  /** The excluded backends' (the bench's own connections) CPU, for the record. */
  readonly excludedMs: number;
  readonly samples: number;
}

interface Seen {
  readonly pid: number;
  readonly kind: string;
  role?: string;
  applicationName?: string;
  /** CPU ns at the first sample that saw it (0 if it started in the window). */
  readonly firstNs: number;
  lastNs: number;
  readonly startedInWindow: boolean;
  ended: boolean;
}

/** Nanoseconds on the CPU, from the scheduler. */
async function schedNs(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  return Number(text.split(' ')[0]);
}

/** The postmaster's ended children (cutime + cstime, ticks of 10 ms) in ns, and its own. */
async function postmasterAccount(pid: number): Promise<{ childrenNs: number; ownNs: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const own = await schedNs(pid);
  if (!text || own === undefined) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  return { childrenNs: (Number(fields[13]) + Number(fields[14])) * 1e7, ownNs: own };
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(' ').filter(Boolean).map(Number);
}

/**
 * The kind of a PostgreSQL process from its title: `postgres: walwriter`, `postgres: autovacuum
 * worker`, or `postgres: <user> <database> <host>(<port>) <state>` for a client backend.
 */
export function processKind(cmdline: string): string {
  const title = cmdline
    .replace(/\0/g, ' ')
    .trim()
    .replace(/^postgres:\s*/, '');
  for (const kind of [
    'autovacuum worker',
    'autovacuum launcher',
    'walwriter',
    'checkpointer',
    'background writer',
    'logical replication launcher',
    'walsender',
    'archiver',
    'startup',
    'parallel worker',
    'background worker',
  ]) {
    if (title.startsWith(kind)) return kind;
  }
  return 'client backend';
}

/**
 * The group a process's CPU is reported under: its kind, or for a client backend its
 * `application_name` and, unless it is the application role, its role. Through PgBouncer the
 * functions' server connections carry postgres.js's default name, as does the stack's own
 * administrative connection; the application role's must not be counted with it.
 */
export function processGroupLabel(process: {
  readonly kind: string;
  readonly applicationName?: string;
  readonly role?: string;
}): string {
  if (process.kind !== 'client backend') return process.kind;
  const name = process.applicationName ?? '(ended before it was seen in pg_stat_activity)';
  return process.role && process.role !== APPLICATION_ROLE
    ? `backend ${name} (${process.role})`
    : `backend ${name}`;
}

/**
 * Starts following the postmaster's children. `exclude` names the application names whose
 * backends are left out of the total (the bench's own connections).
 */
export async function startPostgresProcessMeter(options: {
  readonly sql: Sql;
  readonly postmasterPid: number;
  readonly exclude: readonly string[];
  readonly intervalMs?: number;
}): Promise<{ stop(): Promise<PostgresProcessCpu> }> {
  const seen = new Map<number, Seen>();
  const startedAt = performance.now();
  const first = await postmasterAccount(options.postmasterPid);
  let samples = 0;
  let sampling = Promise.resolve();

  const sample = async (initial: boolean) => {
    const pids = await childrenOf(options.postmasterPid);
    const alive = new Set(pids);
    const fresh: number[] = [];
    for (const pid of pids) {
      const ns = await schedNs(pid);
      if (ns === undefined) continue;
      const known = seen.get(pid);
      if (known) {
        known.lastNs = ns;
        continue;
      }
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const kind = processKind(cmdline);
      seen.set(pid, {
        pid,
        kind,
        firstNs: initial ? ns : 0,
        lastNs: ns,
        startedInWindow: !initial,
        ended: false,
      });
      if (kind === 'client backend') fresh.push(pid);
    }
    for (const entry of seen.values()) if (!alive.has(entry.pid)) entry.ended = true;
    if (fresh.length > 0) {
      const rows = await options.sql<{ pid: number; usename: string | null; application_name: string }[]>`
        select pid, usename, application_name from pg_stat_activity where pid = any (${fresh}::int[])
      `.catch(() => []);
      for (const row of rows) {
        const entry = seen.get(row.pid);
        if (!entry) continue;
        if (row.usename) entry.role = row.usename;
        entry.applicationName = row.application_name;
      }
    }
    samples++;
  };

  await sample(true);
  const timer = setInterval(() => {
    sampling = sampling.then(() => sample(false)).catch(() => {});
  }, options.intervalMs ?? 250);

  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      await sample(false);
      const last = await postmasterAccount(options.postmasterPid);
      const windowSeconds = (performance.now() - startedAt) / 1000;
      const excluded = new Set(options.exclude);
      type Group = { -readonly [K in keyof ProcessCpu]: ProcessCpu[K] } & {
        cpuNs: number;
        startedNs: number;
      };
      const groups = new Map<string, Group>();
      let excludedNs = 0;
      let endedSampledLifetimeNs = 0;
      for (const entry of seen.values()) {
        const spent = entry.lastNs - entry.firstNs;
        if (entry.ended) endedSampledLifetimeNs += entry.lastNs;
        if (entry.applicationName !== undefined && excluded.has(entry.applicationName)) {
          excludedNs += spent;
          continue;
        }
        const label = processGroupLabel(entry);
        const group: Group = groups.get(label) ?? {
          label,
          kind: entry.kind,
          ...(entry.role ? { role: entry.role } : {}),
          ...(entry.applicationName !== undefined ? { applicationName: entry.applicationName } : {}),
          processes: 0,
          startedInWindow: 0,
          cpuMs: 0,
          startedInWindowCpuMs: 0,
          cpuNs: 0,
          startedNs: 0,
        };
        group.processes++;
        if (entry.startedInWindow) group.startedInWindow++;
        group.cpuNs += spent;
        if (entry.startedInWindow) group.startedNs += spent;
        groups.set(label, group);
      }
      const ms = (ns: number) => round(ns / 1e6, 3);
      const postmasterNs = first && last ? last.ownNs - first.ownNs : 0;
      // Ended children: the postmaster's account holds their whole lives; the samples saw up to
      // `lastNs` of each (a child that ended is only in that account once the postmaster reaped it).
      const endedUnsampledNs =
        first && last ? Math.max(0, last.childrenNs - first.childrenNs - endedSampledLifetimeNs) : 0;
      const list = [...groups.values()]
        .map(({ cpuNs, startedNs, ...group }) => ({
          ...group,
          cpuMs: ms(cpuNs),
          startedInWindowCpuMs: ms(startedNs),
        }))
        .sort((a, b) => b.cpuMs - a.cpuMs);
      const groupsNs = [...groups.values()].reduce((sum, g) => sum + g.cpuNs, 0);
      return {
        windowSeconds: round(windowSeconds, 2),
        groups: list,
        postmasterMs: ms(postmasterNs),
        endedUnsampledMs: ms(endedUnsampledNs),
        totalMs: ms(groupsNs + postmasterNs + endedUnsampledNs),
        excludedMs: ms(excludedNs),
        samples,
      };
    },
  };
}

/** CPU ns of one process from the scheduler (for one-connection measurements). */
export async function processCpuNs(pid: number): Promise<number> {
  const ns = await schedNs(pid);
  if (ns === undefined) throw new Error(`no /proc/${pid}/schedstat: the server is not on this machine`);
  return ns;
}
