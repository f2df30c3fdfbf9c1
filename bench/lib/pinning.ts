import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Gives PostgreSQL a core of its own (`npm run bench:cost -- --pin`): the postmaster and its
 * children on the last core, the stack (its Node process and every function container) and this
 * bench process on the others. Processes started later (backends, containers) inherit the
 * affinity of the process that starts them. In AWS the database runs on its own instance; on a
 * shared development machine this is the nearest the bench gets to that: the function
 * containers no longer run on PostgreSQL's core, whatever else the machine runs.
 */
export async function pinPostgresApart(options: {
  readonly postmasterPid: number;
  readonly stackPid: number;
  readonly cores: number;
}): Promise<{ postgresCore: number; stackCores: string }> {
  if (options.cores < 2) throw new Error('--pin needs at least two cores');
  const postgresCore = options.cores - 1;
  const stackCores = options.cores === 2 ? '0' : `0-${options.cores - 2}`;
  const pin = async (pid: number, cores: string) => {
    await promisify(execFile)('taskset', ['-a', '-p', '-c', cores, String(pid)]).catch(() => undefined);
  };
  for (const pid of [options.postmasterPid, ...(await descendants(options.postmasterPid))])
    await pin(pid, String(postgresCore));
  for (const pid of [options.stackPid, ...(await descendants(options.stackPid)), process.pid])
    await pin(pid, stackCores);
  return { postgresCore, stackCores };
}

/** Every descendant of a process alive now, from /proc. */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const found = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, parent] of parents)
      if (!found.has(pid) && found.has(parent)) {
        found.add(pid);
        grew = true;
      }
  }
  found.delete(root);
  return [...found];
}
