import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { findFreePort } from '../../local/ports.js';
import { type RestartMode, startRestartablePostgres } from '../../local/postgres.js';
import { isProcessAlive } from '../../local/processes.js';
import type { LocalStackState } from '../../local/stack.js';
import { STATE_FILE } from '../../local/stack.js';
import {
  freeStackPorts,
  newDataDir,
  type StackProcess,
  spawnStack,
} from '../../test/support/local-stack-process.js';
import { enableStatementStatistics } from './database-cost.js';

/** The system under test: a local stack the bench started, or one it was pointed at. */
export interface BenchTarget {
  readonly apiUrl: string;
  readonly providerUrl: string;
  /** The stack's PostgreSQL, for the audit, the round-trip counts and the physical-limit loops. */
  readonly databaseUrl: string;
  /** The stack's data folder: its `stack.json` names the SQS endpoint and the compensation queues. */
  readonly dataDir: string;
  /** True when the bench started the stack (fresh data folder) and stops it at the end. */
  readonly owned: boolean;
  /** Process id of the stack's Node process when it runs on this machine, for CPU accounting. */
  readonly pid?: number;
  /** The postmaster of the bench's own PostgreSQL (it runs apart from the stack), for CPU accounting. */
  readonly postgresPid?: number;
  /** Restarts the stack's PostgreSQL under load: only when the bench owns the server. */
  readonly restartDatabase?: (mode: RestartMode) => Promise<void>;
  /**
   * Stops the stack and starts it again on the same data, ports and database with more
   * environment (the chaos mix turns on `LOCAL_FAULT_RECORD_FAILURE_RATE` this way, so the load
   * scenarios before it run without injected faults). Only when the bench started the stack.
   */
  readonly restartStack?: (env: Record<string, string>) => Promise<void>;
  /** How long a failed compensation waits before the worker retries it. */
  readonly compensationRetrySeconds: number;
  readonly state: LocalStackState;
  stop(): Promise<void>;
}

export interface TargetFlags {
  /** API base URL of a running stack; without it the bench starts its own. */
  readonly target?: string;
  readonly providerUrl?: string;
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  /**
   * The bench's own stack reaches PostgreSQL through PgBouncer in transaction mode
   * (`LOCAL_PGBOUNCER`), which multiplexes the functions' connections onto a few server
   * connections as RDS Proxy does in AWS.
   */
  readonly pooler?: boolean;
  /** PgBouncer's server connections when `pooler` is on (`LOCAL_PGBOUNCER_SERVER_CONNECTIONS`). */
  readonly poolerConnections?: number;
  /** Containers each function may run at once on the bench's own stack (`LOCAL_LAMBDA_MAX_CONTAINERS`). */
  readonly maxContainers?: number;
}

/** Seconds between compensation retries on the bench's own stack: 5 receives reach the DLQ in ~10 s (it must exceed the poller.s 1 s long poll). */
const OWN_STACK_COMPENSATION_RETRY_SECONDS = 2;

/**
 * Starts `npm start` (bin/local.ts) as a child process on free ports with a fresh data folder,
 * exactly as the end-to-end tests do, or describes the running stack the flags point at. The
 * bench's own stack runs on a PostgreSQL the bench starts itself (`DATABASE_URL`), with the same
 * settings as the embedded one, so the chaos mix can restart it.
 */
export async function openTarget(flags: TargetFlags, log: (line: string) => void): Promise<BenchTarget> {
  if (flags.target) return runningStack(flags);

  const ports = await freeStackPorts();
  const dataDir = await newDataDir();
  const postgres = await startRestartablePostgres({
    dataDir: path.join(path.dirname(dataDir), 'postgres'),
    port: await findFreePort(),
  });
  // Statement statistics for the cost per checkout (bench/lib/database-cost.ts), before the stack connects.
  await enableStatementStatistics(postgres.adminUrl, () => postgres.restart('fast'));
  log(
    `starting a local stack (data in ${dataDir}, API on 127.0.0.1:${ports.PORT}, PostgreSQL on :${postgres.port})`,
  );
  const baseEnv = {
    DATABASE_URL: postgres.adminUrl,
    LOCAL_COMPENSATION_RETRY_SECONDS: String(OWN_STACK_COMPENSATION_RETRY_SECONDS),
    // The handlers log every request at INFO; WARN keeps failures visible without the bench
    // measuring how fast the stack writes logs to a pipe nobody reads.
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...(flags.pooler ? { LOCAL_PGBOUNCER: 'true' } : {}),
    ...(flags.pooler && flags.poolerConnections
      ? { LOCAL_PGBOUNCER_SERVER_CONNECTIONS: String(flags.poolerConnections) }
      : {}),
    ...(flags.maxContainers ? { LOCAL_LAMBDA_MAX_CONTAINERS: String(flags.maxContainers) } : {}),
  };
  let stopping = false;
  const start = async (env: Record<string, string>) => {
    // A synth on a machine shared with other work can take minutes.
    const started = await spawnStack({ ports, dataDir, readyTimeoutMs: 600_000, env });
    // A stack that dies under the bench says why, instead of leaving only connection errors.
    void started.exited.then((code) => {
      if (!stopping) log(`the local stack died (exit code ${code}):\n${started.output().slice(-4000)}`);
    });
    return started;
  };
  const stopStack = async (stack: StackProcess) => {
    stopping = true;
    stack.kill('SIGINT');
    const timer = setTimeout(() => stack.kill('SIGKILL'), 20_000);
    const code = await stack.exited;
    clearTimeout(timer);
    if (code !== 0) log(`the local stack exited with code ${code}:\n${stack.output().slice(-2000)}`);
  };
  let stack = await start(baseEnv).catch(async (error: unknown) => {
    await postgres.stop();
    throw error;
  });
  let state = await readState(dataDir);
  let postgresPid = await postgres.postmasterPid();
  return {
    apiUrl: stack.apiUrl,
    providerUrl: stack.providerUrl,
    databaseUrl: postgres.adminUrl,
    dataDir,
    owned: true,
    get pid() {
      return state.pid;
    },
    get postgresPid() {
      return postgresPid;
    },
    compensationRetrySeconds: OWN_STACK_COMPENSATION_RETRY_SECONDS,
    get state() {
      return state;
    },
    async restartDatabase(mode) {
      await postgres.restart(mode);
      postgresPid = await postgres.postmasterPid();
    },
    async restartStack(env) {
      await stopStack(stack);
      stopping = false;
      stack = await start({ ...baseEnv, ...env });
      state = await readState(dataDir);
    },
    async stop() {
      await stopStack(stack);
      await postgres.stop().catch((error: unknown) => log(`stopping PostgreSQL failed: ${String(error)}`));
      // newDataDir made `<tmp>/checkout-local-XXXX/data`: remove the whole temporary folder.
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    },
  };
}

async function runningStack(flags: TargetFlags): Promise<BenchTarget> {
  const dataDir = path.resolve(flags.dataDir ?? process.env.LOCAL_DATA_DIR ?? '.local-data');
  const state = await readState(dataDir);
  const providerUrl = flags.providerUrl ?? process.env.PAYMENT_PROVIDER_URL ?? state.providerUrl;
  const databaseUrl =
    flags.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5433/postgres';
  return {
    apiUrl: (flags.target as string).replace(/\/+$/, ''),
    providerUrl: providerUrl.replace(/\/+$/, ''),
    databaseUrl,
    dataDir,
    owned: false,
    ...(isProcessAlive(state.pid) ? { pid: state.pid } : {}),
    compensationRetrySeconds: Number(process.env.LOCAL_COMPENSATION_RETRY_SECONDS ?? 3),
    state,
    async stop() {},
  };
}

async function readState(dataDir: string): Promise<LocalStackState> {
  const file = path.join(dataDir, STATE_FILE);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LocalStackState;
  } catch (error) {
    throw new Error(
      `no local stack state in ${file}: the bench needs it for the DLQ redrive (pass --data-dir or LOCAL_DATA_DIR)`,
      { cause: error },
    );
  }
}
