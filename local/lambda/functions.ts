import path from 'node:path';
import { LOCAL_ACCOUNT_ID } from '../aws/local-account.js';
import type { UsageMeter } from '../usage.js';
import { type LocalBuild, WORKER_BUNDLE } from './build.js';
import { ContainerPool, FunctionInvocationError } from './containers.js';
import type { LocalPrincipal } from './iam.js';
import { isAllowed } from './iam.js';
import { type LocalSettings, localConcurrency, localEnvironment, nodeFlags } from './local-differences.js';
import { idOf, type LocalApplication, type ResourceId, type TemplateFunction } from './template.js';

export interface LocalFunctionsOptions {
  readonly app: LocalApplication;
  readonly build: LocalBuild;
  readonly settings: Omit<LocalSettings, 'accessKeyId'>;
  /** `LOCAL_LAMBDA_MAX_CONTAINERS`: containers per function at most, below its reserved concurrency. */
  readonly maxContainersPerFunction: number;
  readonly usage?: UsageMeter;
  readonly log: (line: string) => void;
}

/** The access key a role's functions sign with: it names the role to the IAM proxies. */
export function accessKeyOf(role: ResourceId): string {
  return `LOCAL${role.stack}${role.logicalId}`.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/**
 * Every function of the template, each with its own pool of containers (docs/adr/0013), and the
 * principals the IAM proxies check their calls against.
 */
export class LocalFunctions {
  readonly principals = new Map<string, LocalPrincipal>();
  private readonly pools = new Map<string, ContainerPool>();
  private readonly byArn = new Map<string, TemplateFunction>();

  constructor(private readonly options: LocalFunctionsOptions) {
    const { app } = options;
    for (const role of app.policies.keys()) {
      const [stack = '', logicalId = ''] = role.split('/');
      this.principals.set(accessKeyOf({ stack, logicalId }), {
        arn: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${logicalId}/local`,
        statements: app.policies.get(role) ?? [],
      });
    }
    for (const fn of app.functions) {
      this.byArn.set(fn.arn, fn);
      const accessKeyId = accessKeyOf(fn.role);
      const principal = this.principals.get(accessKeyId);
      if (principal) {
        this.principals.set(accessKeyId, {
          ...principal,
          arn: principal.arn.replace(/\/local$/, `/${fn.name}`),
        });
      }
      this.pools.set(idOf(fn), this.createPool(fn));
    }
  }

  private createPool(fn: TemplateFunction, overrides: Readonly<Record<string, string>> = {}): ContainerPool {
    const { options } = this;
    return new ContainerPool({
      functionName: fn.name,
      bundle: path.join(options.build.bundleDir, fn.entry.replace(/\.ts$/, '.mjs')),
      handlerExport: fn.handlerExport,
      environment: {
        ...localEnvironment(fn, { ...options.settings, accessKeyId: accessKeyOf(fn.role) }),
        ...overrides,
      },
      // LOCAL_LAMBDA_NODE_FLAGS adds Node flags to every container, e.g. `--cpu-prof --cpu-prof-dir=<dir>`
      // to profile the handlers (docs/capacity.md); each container writes its profile when it stops.
      execArgv: [
        ...nodeFlags(fn),
        ...(process.env.LOCAL_LAMBDA_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
      ],
      timeoutSeconds: fn.timeoutSeconds,
      maxContainers: localConcurrency(fn, options.maxContainersPerFunction),
      workerBundle: path.join(options.build.bundleDir, WORKER_BUNDLE),
      log: (line) => options.log(`[lambda ${fn.name}] ${line}`),
      onInvocation: (record) =>
        options.usage?.invocation(record.functionName, record.durationMs, record.coldStart, record.cpuMs),
    });
  }

  /** One invocation in a container of its own, with these variables added to the function's environment. */
  async invokeOnce(
    fn: TemplateFunction,
    event: unknown,
    overrides: Readonly<Record<string, string>>,
  ): Promise<unknown> {
    const pool = this.createPool(fn, overrides);
    try {
      return await pool.invoke(event);
    } finally {
      await pool.close();
    }
  }

  /** The function a resource id, a function ARN or a qualified (alias) ARN names. */
  find(reference: ResourceId | string): TemplateFunction {
    const fn =
      typeof reference === 'string'
        ? (this.byArn.get(reference) ?? this.byArn.get(reference.split(':').slice(0, 7).join(':')))
        : this.options.app.functions.find((candidate) => idOf(candidate) === idOf(reference));
    if (!fn)
      throw new Error(
        `no function ${typeof reference === 'string' ? reference : idOf(reference)} in the template`,
      );
    return fn;
  }

  /** Invokes a function as its event source would; rejects with a {@link FunctionInvocationError}. */
  invoke(fn: TemplateFunction, event: unknown): Promise<unknown> {
    return (this.pools.get(idOf(fn)) as ContainerPool).invoke(event);
  }

  /**
   * Invokes the function `functionArn` names on behalf of `caller` (a role), as Lambda's Invoke
   * API would: refused with AccessDeniedException unless the role may `lambda:InvokeFunction` it.
   */
  invokeAs(caller: ResourceId, functionArn: string, event: unknown): Promise<unknown> {
    const principal = this.principals.get(accessKeyOf(caller));
    if (!principal || !isAllowed(principal.statements, 'lambda:InvokeFunction', functionArn)) {
      return Promise.reject(
        new FunctionInvocationError({
          errorType: 'AccessDeniedException',
          errorMessage: `User: ${principal?.arn ?? idOf(caller)} is not authorized to perform: lambda:InvokeFunction on resource: ${functionArn} because no identity-based policy allows the lambda:InvokeFunction action`,
        }),
      );
    }
    return this.invoke(this.find(functionArn), event);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}
