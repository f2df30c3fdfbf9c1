/**
 * One time-and-capacity budget (docs/adr/0020-one-time-and-capacity-budget.md): every timeout,
 * retry schedule, concurrency and pool size that crosses a layer, declared once. The CDK app builds
 * each function, queue, event source and the proxy from it (values that differ by stage come from
 * the stage config, `lib/config.ts`), the functions get theirs through their environment
 * (`src/config/variables.ts` takes its defaults from here), and {@link budgetViolations} states the
 * nesting rules, which the synth enforces and `test/infra/budget.test.ts` checks on the synthesized
 * templates. The saga's `TimeoutSeconds` and `Retry` stay in the ASL file, its readable definition;
 * the rules read them from there.
 *
 * Pure (no aws-cdk-lib), so functions, tools and tests load it cheaply. Seconds unless a name
 * says otherwise.
 */

/** API Gateway REST's maximum integration timeout (regional API, default quota). */
export const API_GATEWAY_TIMEOUT_SECONDS = 29;

/**
 * What a caller's timer counts and the function's own timeout does not: Lambda's init phase on a
 * cold start (the bench measures cold imports well under a second, docs/PERFORMANCE.md) and the
 * invoke round trip. A function must end this long before its caller gives up.
 */
export const INVOCATION_OVERHEAD_SECONDS = 3;

/** Lambda keeps this much of an account's concurrency unreserved; reservations cannot take it. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/** The database's side of the budget, the same in every stage but its size. */
export const DATABASE_TIMEOUTS = {
  /** postgres.js `connect_timeout` (`DB_CONNECT_TIMEOUT_SECONDS`): TCP, TLS and the IAM login at the proxy. */
  connectTimeoutSeconds: 3,
  /** The application role's `statement_timeout` (migration 0003; test/db checks the role). */
  statementTimeoutSeconds: 5,
  /** Its `lock_timeout`: inside the statement timeout. */
  lockTimeoutSeconds: 2,
  /** Its `idle_in_transaction_session_timeout`. */
  idleInTransactionSeconds: 10,
  /** postgres.js `idle_timeout`: a frozen container's idle connection goes before the proxy's client timeout. */
  clientIdleTimeoutSeconds: 30,
  /** RDS Proxy `ConnectionBorrowTimeout`: how long a statement waits for a database connection. */
  proxyBorrowTimeoutSeconds: 2,
  /** RDS Proxy `IdleClientTimeout`. */
  proxyIdleClientTimeoutSeconds: 300,
  /** RDS Proxy `MaxConnectionsPercent` of the instance's `max_connections`. */
  proxyMaxConnectionsPercent: 90,
} as const;

/**
 * The longest one database call can take on an open connection: waiting for a proxy connection,
 * then the statement (its lock wait included). A new connection adds the connect timeout once.
 */
export const DATABASE_CALL_SECONDS =
  DATABASE_TIMEOUTS.proxyBorrowTimeoutSeconds + DATABASE_TIMEOUTS.statementTimeoutSeconds;

/**
 * How long a container keeps a secret it read (the provider's API key): a key rotated in Secrets
 * Manager reaches every container within this, and a call the provider refuses reads it at once.
 */
export const SECRET_MAX_AGE_SECONDS = 300;

/**
 * How long a checkout container keeps the operators' checkout switch it read (docs/adr/0024): a
 * stop takes effect on every container within this, without a deploy, for one DynamoDB query per
 * container and interval rather than one per checkout.
 */
export const SWITCH_MAX_AGE_SECONDS = 5;

/** The provider client's timeout when the stage sets none (`PAYMENT_TIMEOUT_MS`). */
export const DEFAULT_PAYMENT_TIMEOUT_SECONDS = 15;

/** Connections of a function's pool when the budget sets none (`DB_POOL_MAX`). */
export const DEFAULT_POOL_MAX = 1;

/**
 * What one invocation does, one call after another: the worst case of each call is its own
 * timeout, so this bounds the invocation.
 */
export interface FunctionWork {
  /** Database calls (one statement or database function each). */
  readonly databaseCalls: number;
  /** Payment provider calls. @default 0 */
  readonly providerCalls?: number;
  /**
   * Database calls after the last provider call (recording what the provider did). The gateway
   * keeps this much of the invocation for them: a provider call never runs into it
   * (`PAYMENT_DEADLINE_RESERVE_MS`). @default 0
   */
  readonly databaseCallsAfterProvider?: number;
}

/** One function's line of the budget. */
export interface FunctionBudget {
  /** The Lambda timeout. For a saga task it is derived from its state's `TimeoutSeconds` instead. */
  readonly timeoutSeconds: number;
  readonly work: FunctionWork;
  /** Connections of its database pool; omitted for a function that has no database. */
  readonly poolMax?: number;
  /** Reserved concurrency (production only: a fresh account cannot reserve any). @default - none */
  readonly reservedConcurrency?: number;
}

/** A saga task's line: its timeout comes from the ASL (`TimeoutSeconds` − the invocation overhead). */
export type SagaTaskBudget = Omit<FunctionBudget, 'timeoutSeconds'>;

/** A Step Functions `Retry` rule, as the ASL writes it. */
export interface RetryPolicy {
  readonly IntervalSeconds: number;
  readonly BackoffRate: number;
  readonly MaxDelaySeconds: number;
  readonly MaxAttempts: number;
  readonly JitterStrategy: 'FULL' | 'NONE';
}

/**
 * How every saga task retries infrastructure errors (the database away, Lambda's own failures):
 * full jitter, so the executions a failover interrupted do not come back in lockstep, and long
 * enough that even the jittered waits outlast a Multi-AZ failover (see {@link INFRASTRUCTURE_OUTAGE}).
 */
export const INFRASTRUCTURE_RETRY: RetryPolicy = {
  IntervalSeconds: 5,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  MaxAttempts: 12,
  JitterStrategy: 'FULL',
};

/**
 * The outage the infrastructure retry must outlast: an RDS Multi-AZ failover takes 60–120 s. With
 * full jitter each wait is drawn from [0, its delay], so the rule is a probability: the waits add
 * up to less than the outage at most this rarely (computed exactly, not sampled).
 */
export const INFRASTRUCTURE_OUTAGE = { seconds: 120, maxProbabilityOfGivingUp: 0.001 } as const;

/** The compensation queue and its worker's event source. */
export interface CompensationQueueBudget {
  /**
   * Records per invocation. One: a compensation's worst case (four provider calls) is long, and a
   * timeout fails the whole batch, skipping every record's failure record and last-attempt re-queue.
   */
  readonly batchSize: number;
  /** Concurrent batches (the event source's `MaximumConcurrency`, at least 2). */
  readonly maxConcurrency: number;
  /** Visibility timeout = this × the worker's timeout (AWS's guidance for Lambda event sources). */
  readonly visibilityToTimeoutRatio: number;
  readonly retentionSeconds: number;
  /** Longer than {@link retentionSeconds}: a moved message keeps its first enqueue time. */
  readonly deadLetterRetentionSeconds: number;
  readonly maxReceiveCount: number;
}

/** What the saga starter keeps of its invocation to hand the messages it did not start back. */
export const SAGA_STARTER_STOP_MARGIN_SECONDS = 2;

/**
 * The saga-start queue and its starter's event source (docs/adr/0019). The starter works to a
 * deadline: it starts one message after another while a whole start still fits the invocation and
 * hands the rest back, so its timeout needs to cover one start, not the batch.
 */
export interface SagaStartQueueBudget {
  readonly batchSize: number;
  /** Concurrent batches (the event source's `MaximumConcurrency`, at least 2). */
  readonly maxConcurrency: number;
  /** StartExecution calls per second of one starter container: with {@link maxConcurrency}, the buffer's share of the quota. */
  readonly startsPerSecond: number;
  /** Visibility timeout = this × the starter's timeout. */
  readonly visibilityToTimeoutRatio: number;
  readonly retentionSeconds: number;
  readonly deadLetterRetentionSeconds: number;
  readonly maxReceiveCount: number;
  /** {@link SAGA_STARTER_STOP_MARGIN_SECONDS}. */
  readonly stopMarginSeconds: number;
}

/** A scheduled job: a run leases its rows, and its timeout stays inside the lease. */
export interface JobBudget extends FunctionBudget {
  readonly leaseSeconds: number;
  readonly everySeconds: number;
}

/** The whole budget of a stage. */
export interface TimeAndCapacityBudget {
  readonly paymentTimeoutSeconds: number;
  readonly database: { readonly [Key in keyof typeof DATABASE_TIMEOUTS]: number } & {
    /** The instance's `max_connections` (set in its parameter group). */
    readonly maxConnections: number;
  };
  /** The account's concurrent-executions quota this stage needs (README "Deploy to AWS"). */
  readonly accountConcurrency: number;
  /** API functions, by operation id (`src/api/routes.ts`). */
  readonly api: Readonly<Record<string, FunctionBudget>>;
  /**
   * The request duration the stage throttle is sized for (the load target's p99, docs/PERFORMANCE.md):
   * at the stage's rate, the API functions' concurrency stays inside their reservations.
   */
  readonly apiRequestSeconds: number;
  /** Saga tasks, by Task state name (`statemachines/payment-saga.asl.json`). */
  readonly sagaTasks: Readonly<Record<string, SagaTaskBudget>>;
  readonly compensationWorker: FunctionBudget;
  readonly compensationQueue: CompensationQueueBudget;
  /** The saga starter: lease the order, StartExecution, give the lease back (docs/adr/0019). */
  readonly sagaStarter: FunctionBudget;
  readonly sagaStartQueue: SagaStartQueueBudget;
  readonly sweeper: JobBudget;
  readonly outboxRelay: JobBudget;
  readonly schemaMigrations: FunctionBudget;
  /** The simulated provider (non-production stages): outlives its callers' timeout. */
  readonly simulatedProvider: FunctionBudget;
}

/** The stage throttle the budget allows: no faster than the API functions' reservations serve. */
export function apiStageThrottle(budget: TimeAndCapacityBudget): { rateLimit: number; burstLimit: number } {
  const reserved = Object.values(budget.api).reduce((sum, fn) => sum + (fn.reservedConcurrency ?? 0), 0);
  const capacity = reserved > 0 ? reserved : budget.accountConcurrency;
  return { rateLimit: Math.floor(capacity / budget.apiRequestSeconds), burstLimit: capacity };
}

/** The worst case of one invocation's work. */
export function workSeconds(work: FunctionWork, paymentTimeoutSeconds: number): number {
  const connect = work.databaseCalls > 0 ? DATABASE_TIMEOUTS.connectTimeoutSeconds : 0;
  return (
    connect + work.databaseCalls * DATABASE_CALL_SECONDS + (work.providerCalls ?? 0) * paymentTimeoutSeconds
  );
}

/** What the gateway keeps of an invocation for the database calls after a provider call. */
export function providerDeadlineReserveMs(work: FunctionWork): number {
  return (work.databaseCallsAfterProvider ?? 0) * DATABASE_CALL_SECONDS * 1000;
}

/** A saga task's Lambda timeout: it ends before its state's `TimeoutSeconds` does. */
export function sagaTaskTimeoutSeconds(stateTimeoutSeconds: number): number {
  return stateTimeoutSeconds - INVOCATION_OVERHEAD_SECONDS;
}

/** The queue's visibility timeout, from its worker's timeout. */
export function compensationVisibilitySeconds(budget: TimeAndCapacityBudget): number {
  return budget.compensationWorker.timeoutSeconds * budget.compensationQueue.visibilityToTimeoutRatio;
}

/** The ASL as the rules read it: each Lambda Task's `TimeoutSeconds`, and every `Retry` rule. */
export interface SagaDefinitionView {
  readonly tasks: readonly { readonly stateName: string; readonly timeoutSeconds: number }[];
  readonly retries: readonly {
    readonly stateName: string;
    readonly ErrorEquals: readonly string[];
    readonly IntervalSeconds?: number;
    readonly BackoffRate?: number;
    readonly MaxDelaySeconds?: number;
    readonly MaxAttempts?: number;
    readonly JitterStrategy?: string;
  }[];
}

/** The error every saga task's infrastructure retrier names. */
export const INFRASTRUCTURE_ERROR = 'DatabaseUnavailableError';

/** Every function of the budget with its timeout (saga tasks from the ASL), by a readable name. */
export function budgetedFunctions(
  budget: TimeAndCapacityBudget,
  saga: SagaDefinitionView,
): { name: string; fn: FunctionBudget }[] {
  const timeouts = new Map(saga.tasks.map((task) => [task.stateName, task.timeoutSeconds]));
  return [
    ...Object.entries(budget.api).map(([name, fn]) => ({ name, fn })),
    ...Object.entries(budget.sagaTasks).map(([name, task]) => ({
      name,
      fn: { ...task, timeoutSeconds: sagaTaskTimeoutSeconds(timeouts.get(name) ?? Number.NaN) },
    })),
    { name: 'CompensationWorker', fn: budget.compensationWorker },
    { name: 'SagaStarter', fn: budget.sagaStarter },
    { name: 'OrderSweeper', fn: budget.sweeper },
    { name: 'OutboxRelay', fn: budget.outboxRelay },
    { name: 'SchemaMigrations', fn: budget.schemaMigrations },
  ];
}

/**
 * The rules of the budget (docs/adr/0020), each broken one as a sentence naming the values; empty
 * when the budget holds. The synth fails on any (`lib/checkout-app.ts`).
 */
export function budgetViolations(budget: TimeAndCapacityBudget, saga: SagaDefinitionView): string[] {
  const problems: string[] = [];
  const db = budget.database;
  const payment = budget.paymentTimeoutSeconds;

  // Every saga task has a line, and every line a task.
  const stateNames = new Set(saga.tasks.map((task) => task.stateName));
  for (const task of saga.tasks) {
    if (!budget.sagaTasks[task.stateName]) problems.push(`saga task ${task.stateName} has no budget line`);
  }
  for (const name of Object.keys(budget.sagaTasks)) {
    if (!stateNames.has(name)) problems.push(`budget line ${name} names no Task state of the saga`);
  }

  for (const { name, fn } of budgetedFunctions(budget, saga)) {
    const work = workSeconds(fn.work, payment);
    // An invocation ends before the caller that waits for it gives up: its work fits its timeout.
    if (work > fn.timeoutSeconds) {
      problems.push(
        `${name}: its work takes up to ${work} s, longer than its ${fn.timeoutSeconds} s timeout`,
      );
    }
    const after = (fn.work.databaseCallsAfterProvider ?? 0) * DATABASE_CALL_SECONDS;
    if ((fn.work.providerCalls ?? 0) > 0 && payment + after > fn.timeoutSeconds) {
      problems.push(
        `${name}: the ${payment} s provider timeout and the ${after} s of database work after it exceed its ${fn.timeoutSeconds} s timeout`,
      );
    }
    // A wait for a shared resource is shorter than the function that waits.
    if (fn.work.databaseCalls > 0) {
      for (const [wait, seconds] of [
        ['RDS Proxy borrow timeout', db.proxyBorrowTimeoutSeconds],
        ['database connect timeout', db.connectTimeoutSeconds],
      ] as const) {
        if (seconds >= fn.timeoutSeconds) {
          problems.push(
            `${name}: the ${wait} (${seconds} s) is not shorter than its ${fn.timeoutSeconds} s timeout`,
          );
        }
      }
      if (!fn.poolMax) problems.push(`${name}: uses the database but has no pool size`);
    }
  }
  for (const task of saga.tasks) {
    if (!(sagaTaskTimeoutSeconds(task.timeoutSeconds) > 0)) {
      problems.push(
        `saga task ${task.stateName}: TimeoutSeconds ${task.timeoutSeconds} leaves no time for its function`,
      );
    }
  }
  for (const [name, fn] of Object.entries(budget.api)) {
    if (fn.timeoutSeconds + INVOCATION_OVERHEAD_SECONDS >= API_GATEWAY_TIMEOUT_SECONDS) {
      problems.push(
        `API function ${name}: ${fn.timeoutSeconds} s + ${INVOCATION_OVERHEAD_SECONDS} s overhead is not under API Gateway's ${API_GATEWAY_TIMEOUT_SECONDS} s`,
      );
    }
  }

  // A queue worker's timeout covers its batch's worst case; visibility and retention.
  const queue = budget.compensationQueue;
  const worker = budget.compensationWorker;
  const batch = queue.batchSize * workSeconds(worker.work, payment);
  if (batch > worker.timeoutSeconds) {
    problems.push(
      `compensation worker: a batch of ${queue.batchSize} takes up to ${batch} s, longer than its ${worker.timeoutSeconds} s timeout`,
    );
  }
  if (queue.visibilityToTimeoutRatio < 6) {
    problems.push(
      `compensation queue: visibility is ${queue.visibilityToTimeoutRatio} × the worker's timeout, under 6 ×`,
    );
  }
  if (queue.deadLetterRetentionSeconds <= queue.retentionSeconds) {
    problems.push('compensation DLQ: keeps messages no longer than its source queue');
  }
  if (queue.maxConcurrency < 2)
    problems.push('compensation worker: MaximumConcurrency must be at least 2 (SQS)');

  // The saga starter works to a deadline: one start and the hand-back margin fit its timeout.
  const starts = budget.sagaStartQueue;
  const starter = budget.sagaStarter;
  const oneStart = workSeconds(starter.work, payment) + starts.stopMarginSeconds;
  if (oneStart > starter.timeoutSeconds) {
    problems.push(
      `saga starter: one start and its ${starts.stopMarginSeconds} s hand-back margin take up to ${oneStart} s, longer than its ${starter.timeoutSeconds} s timeout`,
    );
  }
  if (starts.visibilityToTimeoutRatio < 6) {
    problems.push(
      `saga-start queue: visibility is ${starts.visibilityToTimeoutRatio} × the starter's timeout, under 6 ×`,
    );
  }
  if (starts.deadLetterRetentionSeconds <= starts.retentionSeconds) {
    problems.push('saga-start DLQ: keeps messages no longer than its source queue');
  }
  if (starts.maxConcurrency < 2) problems.push('saga starter: MaximumConcurrency must be at least 2 (SQS)');
  if (starter.reservedConcurrency !== undefined && starter.reservedConcurrency < starts.maxConcurrency) {
    problems.push('saga starter: reserved concurrency below its event source maximum concurrency');
  }
  for (const [name, job] of [
    ['OrderSweeper', budget.sweeper],
    ['OutboxRelay', budget.outboxRelay],
  ] as const) {
    if (job.timeoutSeconds >= job.leaseSeconds) {
      problems.push(
        `${name}: its ${job.timeoutSeconds} s timeout outlasts the ${job.leaseSeconds} s lease of its rows`,
      );
    }
  }

  // Concurrency: reservations fit the account, connections fit the proxy.
  const functions = budgetedFunctions(budget, saga);
  const reserved = functions.reduce((sum, { fn }) => sum + (fn.reservedConcurrency ?? 0), 0);
  if (reserved > 0 && reserved + LAMBDA_UNRESERVED_MINIMUM > budget.accountConcurrency) {
    problems.push(
      `reserved concurrency ${reserved} + Lambda's ${LAMBDA_UNRESERVED_MINIMUM} unreserved exceeds the account's ${budget.accountConcurrency}`,
    );
  }
  if (worker.reservedConcurrency !== undefined && worker.reservedConcurrency < queue.maxConcurrency) {
    problems.push('compensation worker: reserved concurrency below its event source maximum concurrency');
  }
  // Unreserved functions share what reservations leave of the account: together they run at most
  // that many at once, each with its pool.
  const unreservedPool = Math.max(0, budget.accountConcurrency - reserved);
  const unreservedPoolMax = Math.max(
    0,
    ...functions.filter(({ fn }) => fn.reservedConcurrency === undefined).map(({ fn }) => fn.poolMax ?? 0),
  );
  const connections =
    functions.reduce((sum, { fn }) => sum + (fn.reservedConcurrency ?? 0) * (fn.poolMax ?? 0), 0) +
    unreservedPool * unreservedPoolMax;
  const proxyConnections = Math.floor((db.maxConnections * db.proxyMaxConnectionsPercent) / 100);
  if (connections > proxyConnections) {
    problems.push(
      `Σ(concurrency × pool size) is ${connections}, more than the proxy's ${proxyConnections} connections (${db.maxConnections} × ${db.proxyMaxConnectionsPercent} %)`,
    );
  }

  // Retries against shared resources use full jitter; the infrastructure retrier is the budget's.
  for (const retry of saga.retries) {
    if ((retry.MaxAttempts ?? 3) > 0 && retry.JitterStrategy !== 'FULL') {
      problems.push(`${retry.stateName}: the Retry on ${retry.ErrorEquals.join(', ')} has no full jitter`);
    }
    if (retry.ErrorEquals.includes(INFRASTRUCTURE_ERROR)) {
      for (const [key, value] of Object.entries(INFRASTRUCTURE_RETRY)) {
        if (retry[key as keyof RetryPolicy] !== value) {
          problems.push(
            `${retry.stateName}: the infrastructure Retry has ${key} ${String(retry[key as keyof RetryPolicy])}, the budget ${value}`,
          );
        }
      }
    }
  }
  const givingUp = probabilityWaitsEndBefore(
    retryDelays(INFRASTRUCTURE_RETRY),
    INFRASTRUCTURE_OUTAGE.seconds,
  );
  if (givingUp > INFRASTRUCTURE_OUTAGE.maxProbabilityOfGivingUp) {
    problems.push(
      `the infrastructure Retry gives up within a ${INFRASTRUCTURE_OUTAGE.seconds} s outage with probability ${givingUp.toExponential(2)}`,
    );
  }
  return problems;
}

/** The delay ceiling before each retry of a policy (full jitter draws each wait from [0, ceiling]). */
export function retryDelays(policy: RetryPolicy): number[] {
  return Array.from({ length: policy.MaxAttempts }, (_, n) =>
    Math.min(policy.MaxDelaySeconds, policy.IntervalSeconds * policy.BackoffRate ** n),
  );
}

/**
 * The probability that independent waits, each uniform on [0, ceiling], add up to less than
 * `seconds`: the distribution of the sum built by convolution on a 0.1 s grid (exact to the grid,
 * no sampling).
 */
export function probabilityWaitsEndBefore(ceilings: readonly number[], seconds: number): number {
  const step = 0.1;
  const cells = Math.ceil(seconds / step);
  // density[i]: probability that the sum so far lies in [i·step, (i+1)·step); beyond `cells` is dropped.
  let density = new Float64Array(cells);
  density[0] = 1;
  for (const ceiling of ceilings) {
    const width = Math.max(1, Math.round(ceiling / step));
    const next = new Float64Array(cells);
    // Uniform over `width` cells: a running window sum of the previous density.
    let window = 0;
    for (let i = 0; i < cells; i++) {
      window += density[i] as number;
      if (i >= width) window -= density[i - width] as number;
      next[i] = window / width;
    }
    density = next;
  }
  return density.reduce((sum, p) => sum + p, 0);
}

/** What differs between stages; everything else in the budget is the same everywhere. */
export interface StageBudgetSettings {
  readonly paymentTimeoutSeconds: number;
  /** The database instance's `max_connections` (its parameter group), sized to its memory. */
  readonly maxConnections: number;
  /** The account's concurrent-executions quota the stage needs (a fresh account has 10). */
  readonly accountConcurrency: number;
  /** Reserved concurrency by function name (production); names not in the budget are refused. */
  readonly reservedConcurrency?: Readonly<Record<string, number>>;
}

const dbOnly = (databaseCalls: number): FunctionWork => ({ databaseCalls });
/** The shortest timeout an API function gets. */
const API_MINIMUM_TIMEOUT_SECONDS = 10;
/**
 * An API function: its timeout covers its work, so a database that does not answer ends in a 503
 * problem from the function, not a Lambda timeout; the rules keep it under API Gateway's 29 s.
 */
const apiFunction = (databaseCalls: number, paymentTimeoutSeconds: number): FunctionBudget => {
  const work = dbOnly(databaseCalls);
  return {
    timeoutSeconds: Math.max(
      API_MINIMUM_TIMEOUT_SECONDS,
      Math.ceil(workSeconds(work, paymentTimeoutSeconds)),
    ),
    work,
    ...(databaseCalls > 0 ? { poolMax: DEFAULT_POOL_MAX } : {}),
  };
};

/**
 * The checkout's budget for a stage. A new function gets its line here (and its name in the
 * stage's reservations, in production); a function built without a line fails the synth.
 */
export function checkoutBudget(stage: StageBudgetSettings): TimeAndCapacityBudget {
  const sagaTask = (work: FunctionWork): SagaTaskBudget => ({ work, poolMax: DEFAULT_POOL_MAX });
  const budget: TimeAndCapacityBudget = {
    paymentTimeoutSeconds: stage.paymentTimeoutSeconds,
    database: { ...DATABASE_TIMEOUTS, maxConnections: stage.maxConnections },
    accountConcurrency: stage.accountConcurrency,
    api: {
      // The customer-limit check and idempotency are DynamoDB calls (SDK defaults); the order read
      // by id and place_order are the database calls.
      placeOrder: apiFunction(2, stage.paymentTimeoutSeconds),
      getOrder: apiFunction(1, stage.paymentTimeoutSeconds),
      getLiveness: apiFunction(0, stage.paymentTimeoutSeconds),
      getReadiness: apiFunction(1, stage.paymentTimeoutSeconds),
      putProduct: apiFunction(1, stage.paymentTimeoutSeconds),
      getProduct: apiFunction(1, stage.paymentTimeoutSeconds),
      putWallet: apiFunction(1, stage.paymentTimeoutSeconds),
      getWallet: apiFunction(1, stage.paymentTimeoutSeconds),
      listCompensations: apiFunction(1, stage.paymentTimeoutSeconds),
      retryCompensation: apiFunction(2, stage.paymentTimeoutSeconds),
      getAdminOrder: apiFunction(3, stage.paymentTimeoutSeconds),
    },
    apiRequestSeconds: 0.5,
    sagaTasks: {
      // Read the order, authorize, record the authorization (or the decline).
      AuthorizePayment: sagaTask({ databaseCalls: 2, providerCalls: 1, databaseCallsAfterProvider: 1 }),
      // Read the order, capture, record the capture, confirm.
      CapturePayment: sagaTask({ databaseCalls: 3, providerCalls: 1, databaseCallsAfterProvider: 2 }),
      ConfirmOrder: sagaTask(dbOnly(1)),
      // Read the order, fence it (an execution of a state machine version older than FenceOrder,
      // docs/adr/0018), retrieve, void or refund (one authorization per order), record the outcome.
      ReversePayment: sagaTask({ databaseCalls: 3, providerCalls: 2, databaseCallsAfterProvider: 1 }),
      FenceOrder: sagaTask(dbOnly(1)),
      ReleaseReservations: sagaTask(dbOnly(1)),
      RefundStoreCredit: sagaTask(dbOnly(1)),
      CancelOrder: sagaTask(dbOnly(1)),
      MarkRequiresAttention: sagaTask(dbOnly(1)),
    },
    compensationWorker: {
      timeoutSeconds: 120,
      // Per record: record the attempt, read the order, retrieve, void, refund, record the outcome,
      // release, refund credit, cancel, resolve; a failed attempt retrieves again and records it.
      work: { databaseCalls: 8, providerCalls: 4, databaseCallsAfterProvider: 5 },
      poolMax: DEFAULT_POOL_MAX,
    },
    compensationQueue: {
      batchSize: 1,
      maxConcurrency: 5,
      visibilityToTimeoutRatio: 6,
      retentionSeconds: 4 * 24 * 3600,
      deadLetterRetentionSeconds: 14 * 24 * 3600,
      maxReceiveCount: 5,
    },
    // Recovery runs in batches under row leases: a run cut short by its timeout leaves its leased
    // orders to the next run (every step is idempotent), so its timeout stays inside the lease.
    sagaStarter: {
      timeoutSeconds: 20,
      // Per start: lease the order, StartExecution (an AWS call; see the ADR), give the lease back.
      work: dbOnly(2),
      poolMax: DEFAULT_POOL_MAX,
    },
    sagaStartQueue: {
      batchSize: 10,
      maxConcurrency: 2,
      // 2 × 50 = 100/s at most: a third of the 300/s StartExecution refill in the large regions.
      startsPerSecond: 50,
      visibilityToTimeoutRatio: 6,
      retentionSeconds: 4 * 24 * 3600,
      deadLetterRetentionSeconds: 14 * 24 * 3600,
      maxReceiveCount: 20,
      stopMarginSeconds: SAGA_STARTER_STOP_MARGIN_SECONDS,
    },
    sweeper: {
      timeoutSeconds: 60,
      work: { databaseCalls: 2, providerCalls: 2, databaseCallsAfterProvider: 1 },
      poolMax: DEFAULT_POOL_MAX,
      leaseSeconds: 120,
      everySeconds: 120,
    },
    outboxRelay: {
      timeoutSeconds: 50,
      work: dbOnly(2),
      poolMax: DEFAULT_POOL_MAX,
      leaseSeconds: 60,
      everySeconds: 60,
    },
    schemaMigrations: { timeoutSeconds: 14 * 60, work: dbOnly(1), poolMax: 1 },
    simulatedProvider: { timeoutSeconds: stage.paymentTimeoutSeconds + 2, work: dbOnly(0) },
  };
  return withReservations(budget, stage.reservedConcurrency ?? {});
}

function withReservations(
  budget: TimeAndCapacityBudget,
  reservations: Readonly<Record<string, number>>,
): TimeAndCapacityBudget {
  const reserve = <T extends { readonly reservedConcurrency?: number }>(name: string, line: T): T => {
    const reserved = reservations[name];
    return reserved === undefined ? line : { ...line, reservedConcurrency: reserved };
  };
  const known = new Set([
    ...Object.keys(budget.api),
    ...Object.keys(budget.sagaTasks),
    'CompensationWorker',
    'SagaStarter',
    'OrderSweeper',
    'OutboxRelay',
    'SchemaMigrations',
  ]);
  const unknown = Object.keys(reservations).filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new Error(`reserved concurrency for unknown function(s): ${unknown.join(', ')}`);
  const each = <T extends { readonly reservedConcurrency?: number }>(lines: Readonly<Record<string, T>>) =>
    Object.fromEntries(Object.entries(lines).map(([name, line]) => [name, reserve(name, line)]));
  return {
    ...budget,
    api: each(budget.api),
    sagaTasks: each(budget.sagaTasks),
    compensationWorker: reserve('CompensationWorker', budget.compensationWorker),
    sagaStarter: reserve('SagaStarter', budget.sagaStarter),
    sweeper: reserve('OrderSweeper', budget.sweeper),
    outboxRelay: reserve('OutboxRelay', budget.outboxRelay),
    schemaMigrations: reserve('SchemaMigrations', budget.schemaMigrations),
  };
}
