import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

/** PgBouncer in transaction mode: the local stand-in for RDS Proxy. */
export interface LocalPgBouncer {
  /** `serverUrl` with host and port replaced by the bouncer's. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface StartPgBouncerOptions {
  /** URL of the PostgreSQL server to pool; its user and password are the bouncer's login too. */
  readonly serverUrl: string;
  readonly port: number;
  /** Folder for the generated configuration. */
  readonly workDir: string;
  /** Server connections per database and user. @default {@link DEFAULT_POOL_SIZE} */
  readonly poolSize?: number;
}

/** PgBouncer's server connections per database and user unless asked for fewer or more. */
export const DEFAULT_POOL_SIZE = 20;

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** Path of the pgbouncer binary, or undefined when it is not installed. */
export function findPgBouncer(): string | undefined {
  for (const candidate of CANDIDATES) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not here; try the next location
    }
  }
  return undefined;
}

/**
 * Starts PgBouncer in front of `serverUrl`, pooling in transaction mode like RDS Proxy: a server
 * connection belongs to a client only for one transaction, which is exactly what breaks named
 * prepared statements and session state.
 */
export async function startPgBouncer(options: StartPgBouncerOptions): Promise<LocalPgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('pgbouncer is not installed (Debian: apt-get install pgbouncer)');

  const server = new URL(options.serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  await mkdir(options.workDir, { recursive: true });
  const ini = path.join(options.workDir, 'pgbouncer.ini');
  const userlist = path.join(options.workDir, 'userlist.txt');
  await writeFile(userlist, `"${user}" "${password}"\n`, { mode: 0o600 });
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${options.port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${userlist}`,
      'pool_mode = transaction',
      'max_client_conn = 2000',
      `default_pool_size = ${options.poolSize ?? DEFAULT_POOL_SIZE}`,
      'ignore_startup_parameters = extra_float_digits,options',
      'server_reset_query =',
      '',
    ].join('\n'),
  );

  const args = [ini];
  if (userInfo().uid === 0) {
    // PgBouncer refuses to run as root; run it as the unprivileged user the database runs as.
    const owner = 'postgres';
    const uid = Number(execFileSync('id', ['-u', owner]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', owner]).toString().trim());
    await chmod(options.workDir, 0o755);
    const { chown } = await import('node:fs/promises');
    await Promise.all([chown(ini, uid, gid), chown(userlist, uid, gid)]);
    args.unshift('-u', owner);
  }

  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await waitForPort(options.port, child, () => stderr);

  const url = new URL(options.serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String(options.port);
  return {
    url: url.toString(),
    stop: () => stopChild(child),
  };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with code ${child.exitCode}: ${output()}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`pgbouncer did not listen on port ${port} within 10 s: ${output()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}
