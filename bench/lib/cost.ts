import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LambdaUsage, UsageSnapshot } from '../../local/usage.js';
import { API_ROUTES } from '../../src/api/routes.js';
import { round } from './stats.js';

/** bench/prices.json: list prices, dated, with their source. */
export interface Prices {
  readonly date: string;
  readonly region: string;
  readonly source: string;
  readonly apiGateway: { readonly restRequestPerMillion: number };
  readonly lambda: { readonly requestPerMillion: number; readonly arm64GbSecond: number };
  readonly stepFunctions: {
    readonly standardTransitionPerMillion: number;
    readonly expressRequestPerMillion: number;
    readonly expressGbSecond: number;
    readonly expressMinimumMemoryMb: number;
    readonly expressBilledIncrementMs: number;
  };
  readonly lambdaDurable: { readonly durableOperationPerMillion: number; readonly dataWrittenPerGb: number };
  readonly dynamodb: {
    readonly onDemandWriteRequestUnitPerMillion: number;
    readonly onDemandReadRequestUnitPerMillion: number;
  };
  readonly sqs: { readonly standardRequestPerMillion: number };
  readonly eventBridge: { readonly customEventPerMillion: number };
}

export const PRICES_FILE = path.resolve(import.meta.dirname, '../prices.json');

export function loadPrices(file = PRICES_FILE): Prices {
  return JSON.parse(readFileSync(file, 'utf8')) as Prices;
}

/**
 * Admin calls (the bench seeding its catalog and wallets) are no part of a checkout's bill: their
 * API requests and function invocations are left out.
 */
const ADMIN_FUNCTIONS = new Set(
  API_ROUTES.filter((route) => route.auth === 'admin').map((route) => `checkout-${route.operationId}`),
);

/** A count went down between two snapshots: the stack restarted (and its meter with it) in between. */
export class MeterResetError extends Error {
  override readonly name = 'MeterResetError';
  constructor(counter: string) {
    super(`the usage meter's ${counter} went down: the stack restarted between the two snapshots`);
  }
}

/** What the stack did between two snapshots (admin calls left out). */
export function usageBetween(before: UsageSnapshot, after: UsageSnapshot): UsageSnapshot {
  const counts: Record<string, number> = {};
  for (const [name, value] of Object.entries(after.counts)) {
    if (ADMIN_FUNCTIONS.has(name.replace(/^apiGateway\./, 'checkout-'))) continue;
    const delta = value - (before.counts[name] ?? 0);
    if (delta < 0) throw new MeterResetError(name);
    if (delta !== 0) counts[name] = delta;
  }
  const lambda: Record<string, LambdaUsage> = {};
  for (const [name, entry] of Object.entries(after.lambda)) {
    if (ADMIN_FUNCTIONS.has(name)) continue;
    const earlier = before.lambda[name] ?? { invocations: 0, billedMs: 0, coldStarts: 0 };
    const invocations = entry.invocations - earlier.invocations;
    if (invocations < 0) throw new MeterResetError(name);
    if (invocations > 0) {
      lambda[name] = {
        invocations,
        billedMs: entry.billedMs - earlier.billedMs,
        coldStarts: (entry.coldStarts ?? 0) - (earlier.coldStarts ?? 0),
        ...(entry.cpuMs === undefined ? {} : { cpuMs: entry.cpuMs - (earlier.cpuMs ?? 0) }),
      };
    }
  }
  return { counts, lambda };
}

const DYNAMODB_WRITES = ['PutItem', 'UpdateItem', 'DeleteItem'];
const DYNAMODB_READS = ['GetItem', 'Query', 'Scan'];
/** SQS requests a checkout causes; `ReceiveMessage` long polls run on a timer whatever the traffic. */
const SQS_POLLS = ['ReceiveMessage'];

/** Billed units per checkout, from the stand-ins' counts. */
export interface CheckoutUsage {
  readonly checkouts: number;
  readonly apiRequests: number;
  readonly stateTransitions: number;
  readonly executions: number;
  /** Per function: invocations, billed milliseconds and cold starts, each per checkout. */
  readonly lambda: Readonly<Record<string, LambdaUsage>>;
  readonly lambdaInvocations: number;
  /**
   * Lambda-billed duration summed over every function the checkout invoked (cold starts' INIT
   * included), in milliseconds, as the containers measured it (docs/adr/0013).
   */
  readonly lambdaBilledMs: number;
  /** Containers started for the checkouts, per checkout: each is a cold start AWS would have too. */
  readonly coldStarts: number;
  /**
   * The handlers' own CPU per checkout (ms), measured inside each container around the handler:
   * what Lambda bills as compute, without the local runtime's IPC and the stand-ins.
   */
  readonly handlerCpuMs?: number;
  readonly lambdaGbSeconds: number;
  /** Sagas' task functions only (`checkout-<State>`), for the other orchestrators on paper. */
  readonly sagaTaskInvocations: number;
  readonly sagaTaskGbSeconds: number;
  /** Items are under 1 KB and reads strongly consistent: one request unit per request. */
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly sqsRequests: number;
  /** Long polls per checkout in this phase: time-driven, reported but not priced per checkout. */
  readonly sqsPolls: number;
  readonly events: number;
}

export function perCheckout(
  usage: UsageSnapshot,
  checkouts: number,
  options: {
    readonly memoryMb: number;
    readonly sagaTaskFunctions: readonly string[];
    /** Outbox events the phase's orders enqueued: each is published once to EventBridge. */
    readonly events: number;
  },
): CheckoutUsage {
  const per = (value: number) => round(value / checkouts, 4);
  const count = (name: string) => usage.counts[name] ?? 0;
  const sum = (service: string, operations: readonly string[]) =>
    operations.reduce((total, operation) => total + count(`${service}.${operation}`), 0);
  const apiRequests = Object.entries(usage.counts)
    .filter(([name]) => name.startsWith('apiGateway.'))
    .reduce((total, [, value]) => total + value, 0);
  const sqsAll = Object.entries(usage.counts)
    .filter(([name]) => name.startsWith('sqs.'))
    .reduce((total, [, value]) => total + value, 0);
  const polls = sum('sqs', SQS_POLLS);
  const gbSeconds = (billedMs: number) => (billedMs / 1000) * (options.memoryMb / 1024);
  const functions = Object.entries(usage.lambda);
  const tasks = functions.filter(([name]) => options.sagaTaskFunctions.includes(name));
  return {
    checkouts,
    apiRequests: per(apiRequests),
    stateTransitions: per(count('stepFunctions.transitions')),
    executions: per(count('stepFunctions.executions')),
    lambda: Object.fromEntries(
      functions.map(([name, entry]) => [
        name,
        {
          invocations: per(entry.invocations),
          billedMs: per(entry.billedMs),
          coldStarts: per(entry.coldStarts),
          ...(entry.cpuMs === undefined ? {} : { cpuMs: per(entry.cpuMs) }),
        },
      ]),
    ),
    lambdaInvocations: per(functions.reduce((total, [, entry]) => total + entry.invocations, 0)),
    lambdaBilledMs: per(functions.reduce((total, [, entry]) => total + entry.billedMs, 0)),
    coldStarts: per(functions.reduce((total, [, entry]) => total + entry.coldStarts, 0)),
    ...(functions.some(([, entry]) => entry.cpuMs !== undefined)
      ? { handlerCpuMs: per(functions.reduce((total, [, entry]) => total + (entry.cpuMs ?? 0), 0)) }
      : {}),
    lambdaGbSeconds: per(gbSeconds(functions.reduce((total, [, entry]) => total + entry.billedMs, 0))),
    sagaTaskInvocations: per(tasks.reduce((total, [, entry]) => total + entry.invocations, 0)),
    sagaTaskGbSeconds: per(gbSeconds(tasks.reduce((total, [, entry]) => total + entry.billedMs, 0))),
    dynamodbWrites: per(sum('dynamodb', DYNAMODB_WRITES)),
    dynamodbReads: per(sum('dynamodb', DYNAMODB_READS)),
    sqsRequests: per(sqsAll - polls),
    sqsPolls: per(polls),
    events: per(options.events),
  };
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly dollarsPerMillionCheckouts: number;
}

export interface CostBreakdown {
  readonly lines: CostLine[];
  readonly totalPerMillionCheckouts: number;
}

/** Dollars per million checkouts; `quantity` is per checkout. */
function breakdown(lines: CostLine[]): CostBreakdown {
  const rounded = lines.map((line) => ({
    ...line,
    dollarsPerMillionCheckouts: round(line.dollarsPerMillionCheckouts, 2),
  }));
  return {
    lines: rounded,
    totalPerMillionCheckouts: round(
      lines.reduce((total, line) => total + line.dollarsPerMillionCheckouts, 0),
      2,
    ),
  };
}

/** The services around the saga, the same whichever orchestrator runs it. */
function commonLines(
  usage: CheckoutUsage,
  prices: Prices,
  lambda: { invocations: number; gbSeconds: number },
) {
  const million = 1_000_000;
  return [
    {
      item: 'API Gateway requests',
      quantity: usage.apiRequests,
      dollarsPerMillionCheckouts: usage.apiRequests * prices.apiGateway.restRequestPerMillion,
    },
    {
      item: 'Lambda requests',
      quantity: lambda.invocations,
      dollarsPerMillionCheckouts: lambda.invocations * prices.lambda.requestPerMillion,
    },
    {
      item: 'Lambda GB-seconds (arm64)',
      quantity: round(lambda.gbSeconds, 5),
      dollarsPerMillionCheckouts: lambda.gbSeconds * prices.lambda.arm64GbSecond * million,
    },
    {
      item: 'DynamoDB write request units',
      quantity: usage.dynamodbWrites,
      dollarsPerMillionCheckouts: usage.dynamodbWrites * prices.dynamodb.onDemandWriteRequestUnitPerMillion,
    },
    {
      item: 'DynamoDB read request units',
      quantity: usage.dynamodbReads,
      dollarsPerMillionCheckouts: usage.dynamodbReads * prices.dynamodb.onDemandReadRequestUnitPerMillion,
    },
    {
      item: 'SQS requests',
      quantity: usage.sqsRequests,
      dollarsPerMillionCheckouts: usage.sqsRequests * prices.sqs.standardRequestPerMillion,
    },
    {
      item: 'EventBridge events',
      quantity: usage.events,
      dollarsPerMillionCheckouts: usage.events * prices.eventBridge.customEventPerMillion,
    },
  ];
}

/** As built: a Standard workflow, each Task its own Lambda invocation. */
export function standardCost(usage: CheckoutUsage, prices: Prices): CostBreakdown {
  return breakdown([
    ...commonLines(usage, prices, { invocations: usage.lambdaInvocations, gbSeconds: usage.lambdaGbSeconds }),
    {
      item: 'Step Functions Standard transitions',
      quantity: usage.stateTransitions,
      dollarsPerMillionCheckouts: usage.stateTransitions * prices.stepFunctions.standardTransitionPerMillion,
    },
  ]);
}

/**
 * On paper: the same definition as an Express workflow. Transitions are free; each execution is a
 * request plus its duration at the minimum memory, rounded up to 100 ms. `executionMs` is the
 * measured saga time per checkout (POST to CONFIRMED), an upper bound.
 */
export function expressCost(usage: CheckoutUsage, prices: Prices, executionMs: number): CostBreakdown {
  const { stepFunctions: sfn } = prices;
  const billedSeconds =
    (Math.ceil(executionMs / sfn.expressBilledIncrementMs) * sfn.expressBilledIncrementMs) / 1000;
  const gbSeconds = usage.executions * billedSeconds * (sfn.expressMinimumMemoryMb / 1024);
  return breakdown([
    ...commonLines(usage, prices, { invocations: usage.lambdaInvocations, gbSeconds: usage.lambdaGbSeconds }),
    {
      item: 'Step Functions Express requests',
      quantity: usage.executions,
      dollarsPerMillionCheckouts: usage.executions * sfn.expressRequestPerMillion,
    },
    {
      item: 'Step Functions Express GB-seconds',
      quantity: round(gbSeconds, 5),
      dollarsPerMillionCheckouts: gbSeconds * sfn.expressGbSecond * 1_000_000,
    },
  ]);
}

/**
 * On paper: the saga as one Lambda durable function. Each Task becomes a durable step (one durable
 * operation, about 1 KB checkpointed) run inside the function, so the task invocations fold into
 * one invocation per saga; the compute (GB-seconds) stays the same.
 */
export function durableCost(usage: CheckoutUsage, prices: Prices): CostBreakdown {
  const operations = usage.sagaTaskInvocations + usage.executions;
  const invocations = usage.lambdaInvocations - usage.sagaTaskInvocations + usage.executions;
  const checkpointGb = (operations * 1024) / 1024 ** 3;
  return breakdown([
    ...commonLines(usage, prices, { invocations, gbSeconds: usage.lambdaGbSeconds }),
    {
      item: 'Lambda durable operations',
      quantity: round(operations, 4),
      dollarsPerMillionCheckouts: operations * prices.lambdaDurable.durableOperationPerMillion,
    },
    {
      item: 'Lambda durable data written',
      quantity: round(checkpointGb, 9),
      dollarsPerMillionCheckouts: checkpointGb * prices.lambdaDurable.dataWrittenPerGb * 1_000_000,
    },
  ]);
}
