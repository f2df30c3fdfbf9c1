import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isPortFree } from '../../local/ports.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface StackPorts {
  readonly PORT: number;
  readonly PAYMENT_PROVIDER_PORT: number;
  readonly LOCAL_POSTGRES_PORT: number;
  readonly LOCAL_SQS_PORT: number;
  readonly LOCAL_DYNAMODB_PORT: number;
  readonly LOCAL_STEPFUNCTIONS_PORT: number;
}

/** `npm start` as a child process, driven only over HTTP. */
export interface StackProcess {
  readonly apiUrl: string;
  readonly providerUrl: string;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

export async function freeStackPorts(): Promise<StackPorts> {
  const taken = new Set<number>();
  const next = async () => {
    const port = await freePortBelowEphemeralRange(taken);
    taken.add(port);
    return port;
  };
  return {
    PORT: await next(),
    PAYMENT_PROVIDER_PORT: await next(),
    LOCAL_POSTGRES_PORT: await next(),
    LOCAL_SQS_PORT: await next(),
    LOCAL_DYNAMODB_PORT: await next(),
    LOCAL_STEPFUNCTIONS_PORT: await next(),
  };
}

/**
 * Linux hands out ports from 32768 up to every `listen(0)` and outgoing connection: a port found
 * free there can be taken by another test's stack (or one of its connections) before this stack
 * binds it. Ports below that range are handed out only on request, so a random one that binds now
 * stays free until the stack takes it, unless another test picks the same one of 12,000.
 */
async function freePortBelowEphemeralRange(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!taken.has(port) && (await isPortFree(port))) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

export async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'checkout-local-'));
  // As root, PostgreSQL runs as `postgres` and must reach its folder inside.
  await chmod(dir, 0o755);
  return path.join(dir, 'data');
}

/**
 * Starts the local stack exactly as `npm start` does (bin/local.ts), on the given ports and data
 * folder, and resolves once it prints that it is ready; rejects if it exits first.
 */
export function spawnStack(options: {
  ports: StackPorts;
  dataDir: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<StackProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(options.ports).map(([name, port]) => [name, String(port)])),
      LOCAL_DATA_DIR: options.dataDir,
      LOCAL_COMPENSATION_RETRY_SECONDS: '2',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      DATABASE_URL: '',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`local stack not ready in time:\n${output}`));
    }, options.readyTimeoutMs ?? 60_000);
    const poll = setInterval(() => {
      if (output.includes('[local] ready')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({
          apiUrl: `http://127.0.0.1:${options.ports.PORT}`,
          providerUrl: `http://127.0.0.1:${options.ports.PAYMENT_PROVIDER_PORT}`,
          output: () => output,
          exited,
          kill: (signal) => child.kill(signal),
        });
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`local stack exited with code ${code} before it was ready:\n${output}`));
    });
  });
}
