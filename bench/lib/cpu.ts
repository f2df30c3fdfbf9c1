import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { Sql } from 'postgres';

/**
 * Where the CPU went during a measurement, in cores (1.0 = one core busy for the whole interval).
 * That is what bounds throughput on a 2-core machine: the stack's Node process (API gateway,
 * saga interpreter, DynamoDB and SQS stand-ins, IAM checks, payment provider) and the functions'
 * containers (its Node children, docs/adr/0013) against PostgreSQL against the load generator.
 */
export interface CpuUse {
  /** The stack's Node process (every in-process component of `npm start`). */
  readonly stackNode: number;
  /** The functions' containers: the stack's Node child processes. */
  readonly functions: number;
  /** PostgreSQL: the postmaster and its backends (children of the stack process, or of their own). */
  readonly postgres: number;
  /** Other descendants of the stack process (e.g. PgBouncer). */
  readonly otherChildren: number;
  /** This bench process: the load generator and its result handling. */
  readonly bench: number;
  /** The whole machine, including other users of it. */
  readonly machine: number;
  /** What neither the stack nor the bench used: other work on the machine (pgbench too, when it runs). */
  readonly others: number;
  readonly cores: number;
}

type Role = 'stackNode' | 'functions' | 'postgres' | 'otherChildren';

interface Snapshot {
  readonly at: number;
  /** CPU seconds of each process of the stack's tree, by pid. */
  readonly tree: Map<number, { readonly role: Role; readonly seconds: number }>;
  readonly bench: number;
  readonly machineBusy: number;
}

/**
 * What /proc calls a Node process: its main thread's name, `node` until Node 22 and `MainThread`
 * since Node 24 names its threads.
 */
const NODE_PROCESS_NAMES = new Set(['node', 'MainThread']);

/** Kernel clock ticks per second for /proc times; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** The processes a measurement follows: the stack's Node process, and PostgreSQL when it runs apart. */
export interface MeteredProcesses {
  readonly pid?: number;
  /** The postmaster, when PostgreSQL is not a child of the stack (the bench's own restartable server). */
  readonly postgresPid?: number;
}

/**
 * Starts measuring CPU time of the stack's process tree (Linux /proc); `stop()` returns the use
 * since the start. Without a stack pid or /proc, it measures nothing and returns undefined.
 */
export async function startCpuMeter(
  processes: MeteredProcesses,
): Promise<{ stop(): Promise<CpuUse | undefined> }> {
  const first = await snapshot(processes).catch(() => undefined);
  return {
    async stop() {
      const last = await snapshot(processes).catch(() => undefined);
      if (!first || !last) return undefined;
      const seconds = (last.at - first.at) / 1000;
      const cores = (cpuSeconds: number) => Math.round((cpuSeconds / seconds) * 100) / 100;
      // Per process: connections open and close meanwhile. A process that started counts whole;
      // one that ended is lost (its last times are gone with it), so the tree is a lower bound.
      const spent: Record<Role, number> = { stackNode: 0, functions: 0, postgres: 0, otherChildren: 0 };
      for (const [pid, now] of last.tree)
        spent[now.role] += now.seconds - (first.tree.get(pid)?.seconds ?? 0);
      const use = {
        stackNode: cores(spent.stackNode),
        functions: cores(spent.functions),
        postgres: cores(spent.postgres),
        otherChildren: cores(spent.otherChildren),
        bench: cores(last.bench - first.bench),
        machine: cores(last.machineBusy - first.machineBusy),
      };
      const ours = use.stackNode + use.functions + use.postgres + use.otherChildren + use.bench;
      return {
        ...use,
        others: Math.max(0, Math.round((use.machine - ours) * 100) / 100),
        cores: cpus().length,
      };
    },
  };
}

async function snapshot({ pid: stackPid, postgresPid }: MeteredProcesses): Promise<Snapshot | undefined> {
  if (stackPid === undefined || process.platform !== 'linux') return undefined;
  const processes = new Map<number, { ppid: number; name: string; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const times = await processTimes(Number(entry));
    if (times) processes.set(Number(entry), times);
  }
  const descendants = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, info] of processes) {
      const child = info.ppid === stackPid || pid === postgresPid || descendants.has(info.ppid);
      if (!descendants.has(pid) && child) {
        descendants.add(pid);
        grew = true;
      }
    }
  }
  const tree: Snapshot['tree'] = new Map();
  const own = processes.get(stackPid);
  if (own) tree.set(stackPid, { role: 'stackNode', seconds: own.seconds });
  for (const pid of descendants) {
    const info = processes.get(pid);
    if (!info) continue;
    tree.set(pid, {
      role: info.name.startsWith('postgres')
        ? 'postgres'
        : NODE_PROCESS_NAMES.has(info.name) && info.ppid === stackPid
          ? 'functions'
          : 'otherChildren',
      seconds: info.seconds,
    });
  }
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    tree,
    bench: (usage.user + usage.system) / 1e6,
    machineBusy: await machineBusySeconds(),
  };
}

/** Name, parent and CPU seconds (user + system) of one process, from /proc/<pid>/stat. */
async function processTimes(
  pid: number,
): Promise<{ ppid: number; name: string; seconds: number } | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // The name is in parentheses and may itself contain spaces or parentheses.
  const close = stat.lastIndexOf(')');
  const name = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // After the name: state(0) ppid(1) ... utime(11) stime(12).
  return { ppid: Number(fields[1]), name, seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

/**
 * Starts measuring the CPU of the PostgreSQL backends serving one client's connections, found by
 * their `application_name`: what the client's own statements cost the server, without the other
 * sessions (the stack's pollers, the outbox relay) that run meanwhile. `stop()` returns cores,
 * or undefined when the server's processes are not on this machine. Connections opened meanwhile
 * count whole; one closed meanwhile is lost, so it is a lower bound, like {@link startCpuMeter}.
 */
export async function startBackendCpuMeter(
  sql: Sql,
  applicationName: string,
): Promise<{ stop(): Promise<number | undefined> }> {
  const backends = async () => {
    const rows = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity where application_name = ${applicationName}
    `;
    const seconds = new Map<number, number>();
    for (const { pid } of rows) {
      const times = await processTimes(pid);
      if (times?.name.startsWith('postgres')) seconds.set(pid, times.seconds);
    }
    return { at: performance.now(), seconds };
  };
  const first = await backends();
  return {
    async stop() {
      const last = await backends();
      if (last.seconds.size === 0) return undefined;
      let spent = 0;
      for (const [pid, seconds] of last.seconds) spent += seconds - (first.seconds.get(pid) ?? 0);
      return Math.round((spent / ((last.at - first.at) / 1000)) * 100) / 100;
    },
  };
}

/** Busy CPU seconds of the whole machine since boot, from the first line of /proc/stat. */
async function machineBusySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS
  );
}
