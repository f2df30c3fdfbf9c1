import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ContainerMessage, CrashMessage, FunctionError, InitMessage } from './protocol.js';

/** A failed invocation, as Lambda reports it: `name` is the `errorType` Step Functions matches. */
export class FunctionInvocationError extends Error {
  readonly errorType: string;
  readonly trace: readonly string[];

  constructor(error: FunctionError) {
    super(error.errorMessage);
    this.name = error.errorType;
    this.errorType = error.errorType;
    this.trace = error.trace ?? [];
  }
}

export interface InvocationRecord {
  readonly functionName: string;
  /** What Lambda bills: the handler's run time (and, on a cold start, the INIT phase). */
  readonly durationMs: number;
  readonly initMs?: number;
  readonly coldStart: boolean;
  /** The handler's own CPU time, as the container measured it. */
  readonly cpuMs?: number;
}

export interface ContainerPoolOptions {
  readonly functionName: string;
  readonly bundle: string;
  readonly handlerExport: string;
  /** The container's whole environment (nothing is inherited from this process). */
  readonly environment: Readonly<Record<string, string>>;
  /** Node flags, from the function's NODE_OPTIONS. */
  readonly execArgv: readonly string[];
  readonly timeoutSeconds: number;
  /** Containers at most: the reserved concurrency, or a local cap. */
  readonly maxContainers: number;
  readonly workerBundle: string;
  /**
   * Fault injection at the containers' network seams (local/faults/process-crashes.ts): it may
   * route a container's calls through itself and end the container's process. @default - none
   */
  readonly faults?: ContainerFaults;
  /** Told about cold starts, init failures and timeouts, as Lambda's log lines. */
  readonly log: (line: string) => void;
  /** Told about every invocation, for the usage meter. */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

/** How an injected crash ends a container's process (see `CrashMessage`). */
export type CrashKind = 'unhandledRejection' | 'exit';

/** A container as fault injection sees it: an id, and a way to end its process. */
export interface FaultableContainer {
  readonly id: number;
  /** Ends the container's process as `kind` says, mid-invocation; resolves once it has exited. */
  crash(kind: CrashKind, reason: string): Promise<void>;
}

/** Fault injection at the seams the emulator owns: what a container's calls go through. */
export interface ContainerFaults {
  /** Called before a pool starts its first container. */
  prepare(): Promise<void>;
  /** The environment of a starting container: `environment`, its calls routed as the faults need. */
  environmentFor(
    container: FaultableContainer,
    environment: Readonly<Record<string, string>>,
  ): Record<string, string>;
  /** The container is gone. */
  forget(container: FaultableContainer): void;
}

/** A container's process ended on its own, with this exit code or signal. */
interface Exit {
  readonly type: 'exit';
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Container {
  readonly process: ChildProcess;
  readonly id: number;
  /** Resolves once INIT is over; rejects with the init error. */
  readonly ready: Promise<number>;
  pending?: {
    readonly requestId: string;
    readonly resolve: (message: ContainerMessage | Exit) => void;
  };
  exited: boolean;
  /** Killed by the pool (a timeout), not exited on its own. */
  killed?: boolean;
  /** Resolves once the process has exited. */
  readonly closed: Promise<void>;
}

/**
 * The containers of one function (docs/adr/0013). Each is a child process running one invocation
 * at a time; a new one starts (cold, its INIT timed and logged) only when every existing one is
 * busy and fewer than `maxContainers` exist, otherwise the invocation waits for the next free one,
 * in order. A container that times out (`Sandbox.Timedout`), fails its INIT or exits is discarded.
 */
export class ContainerPool {
  private readonly idle: Container[] = [];
  private readonly all = new Set<Container>();
  private readonly waiting: ((container: Container) => void)[] = [];
  private nextId = 1;
  private closed = false;
  /** The faults' one-time preparation, shared by every acquire. */
  private faultsPrepared: Promise<void> | undefined;

  constructor(private readonly options: ContainerPoolOptions) {}

  /** Invokes the function once with `event`; rejects with a {@link FunctionInvocationError}. */
  async invoke(event: unknown): Promise<unknown> {
    if (this.closed)
      throw new FunctionInvocationError({ errorType: 'ServiceException', errorMessage: 'stopped' });
    const { container, cold } = await this.acquire();
    let initMs: number | undefined;
    try {
      initMs = await container.ready;
    } catch (error) {
      this.discard(container);
      this.options.onInvocation?.({
        functionName: this.options.functionName,
        durationMs: 0,
        coldStart: true,
      });
      throw error;
    }
    const requestId = randomUUID();
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const started = performance.now();
    const reply = await new Promise<ContainerMessage | Exit | 'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), timeoutMs);
      container.pending = {
        requestId,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      // A container that died meanwhile fails the send; its 'close' settles this invocation.
      container.process.send(
        { type: 'invoke', requestId, event, deadline: Date.now() + timeoutMs },
        () => {},
      );
    });
    container.pending = undefined;
    const record = (durationMs: number, cpuMs?: number) =>
      this.options.onInvocation?.({
        functionName: this.options.functionName,
        durationMs: durationMs + (cold ? (initMs ?? 0) : 0),
        ...(cold ? { initMs } : {}),
        coldStart: cold,
        ...(cpuMs === undefined ? {} : { cpuMs }),
      });

    if (reply === 'timeout' || reply.type === 'exit') {
      record(performance.now() - started);
      this.discard(container);
      if (reply === 'timeout') {
        const message = `Task timed out after ${this.options.timeoutSeconds.toFixed(2)} seconds`;
        this.options.log(`${requestId} ${message}`);
        throw new FunctionInvocationError({ errorType: 'Sandbox.Timedout', errorMessage: message });
      }
      throw new FunctionInvocationError({
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: ${requestId} Error: ${exitReason(reply)}`,
      });
    }
    // A container that crashed (an unhandled rejection or exception) reported its invocation and is going away.
    if (reply.type === 'failed' && reply.crashed) this.discard(container);
    else this.release(container);
    if (reply.type === 'result') {
      record(reply.durationMs, reply.cpuMs);
      return reply.value;
    }
    if (reply.type === 'failed') {
      record(reply.durationMs, reply.cpuMs);
      throw new FunctionInvocationError(reply.error);
    }
    throw new Error(`unexpected reply ${reply.type} from a container of ${this.options.functionName}`);
  }

  /** Stops every container; invocations in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.all].map(
        (container) =>
          new Promise<void>((resolve) => {
            if (container.exited) return resolve();
            container.process.once('close', () => resolve());
            container.process.kill('SIGTERM');
          }),
      ),
    );
  }

  private async acquire(): Promise<{ container: Container; cold: boolean }> {
    // Before the capacity check, never between it and start(): concurrent acquires must see each
    // other's containers. Without faults nothing is awaited, as before there were any.
    if (this.options.faults) {
      this.faultsPrepared ??= this.options.faults.prepare();
      await this.faultsPrepared;
    }
    const idle = this.idle.pop();
    if (idle) return { container: idle, cold: false };
    if (this.all.size < this.options.maxContainers) return { container: this.start(), cold: true };
    return { container: await new Promise<Container>((resolve) => this.waiting.push(resolve)), cold: false };
  }

  private release(container: Container): void {
    const next = this.waiting.shift();
    if (next) next(container);
    else this.idle.push(container);
  }

  /** Removes a container for good; a waiting invocation gets a fresh one in its place. */
  private discard(container: Container): void {
    if (!this.all.has(container)) return;
    this.all.delete(container);
    const index = this.idle.indexOf(container);
    if (index >= 0) this.idle.splice(index, 1);
    if (!container.exited) {
      container.killed = true;
      container.process.kill('SIGKILL');
    }
    const next = this.waiting.shift();
    if (next && !this.closed) next(this.start());
  }

  private start(): Container {
    const { options } = this;
    const id = this.nextId++;
    let closed: () => void = () => {};
    const whenClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const faultable: FaultableContainer = {
      id,
      crash: async (kind, reason) => {
        child.send({ type: 'crash', kind, reason } satisfies CrashMessage, () => {});
        await whenClosed;
      },
    };
    const environment = options.faults
      ? options.faults.environmentFor(faultable, options.environment)
      : options.environment;
    const child = fork(options.workerBundle, [], {
      env: { ...environment },
      execArgv: [...options.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let settle: { resolve: (initMs: number) => void; reject: (error: Error) => void } | undefined;
    const ready = new Promise<number>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Awaited in invoke(); a container discarded before anyone awaits it must not warn.
    ready.catch(() => {});
    const container: Container = { process: child, id, ready, exited: false, closed: whenClosed };
    child.on('message', (message: ContainerMessage) => {
      if (message.type === 'ready') {
        options.log(`INIT_REPORT Init Duration: ${message.initMs.toFixed(2)} ms (container ${id})`);
        settle?.resolve(message.initMs);
      } else if (message.type === 'initFailed') {
        options.log(
          `INIT_REPORT Init Duration: ${message.initMs.toFixed(2)} ms Phase: init Status: error Error Type: ${message.error.errorType} (${message.error.errorMessage})`,
        );
        settle?.reject(new FunctionInvocationError(message.error));
      } else if (container.pending?.requestId === message.requestId) {
        container.pending.resolve(message);
      }
    });
    child.on('error', () => {
      // A failed spawn or IPC write; the 'close' that follows settles what was waiting.
    });
    // 'close', not 'exit': by then every message the container sent before it died has arrived.
    child.once('close', (code, signal) => {
      if (!this.closed && !container.killed) {
        options.log(
          `container ${id} exited (${signal ?? `code ${code}`}); the next invocation starts a new one`,
        );
      }
      container.exited = true;
      options.faults?.forget(faultable);
      closed();
      container.pending?.resolve({ type: 'exit', code, signal });
      settle?.reject(
        new FunctionInvocationError({
          errorType: 'Runtime.ExitError',
          errorMessage: 'Runtime exited before its INIT completed',
        }),
      );
      this.discard(container);
    });
    this.all.add(container);
    child.send(
      {
        type: 'init',
        bundle: options.bundle,
        handlerExport: options.handlerExport,
      } satisfies InitMessage,
      () => {},
    );
    return container;
  }
}

/** Signal names as Lambda's runtime API words them (Go's), for the common ones. */
const SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGABRT: 'aborted',
  SIGSEGV: 'segmentation fault',
};

/** Why a process ended, as Lambda reports a runtime that exited during an invocation. */
function exitReason({ code, signal }: Exit): string {
  if (signal) return `Runtime exited with error: signal: ${SIGNAL_NAMES[signal] ?? signal}`;
  if (code) return `Runtime exited with error: exit status ${code}`;
  return 'Runtime exited without providing a reason';
}
