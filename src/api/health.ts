import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DatabaseProbe } from '../db/client.js';
import type { BreakerState } from '../payments/circuit-breaker.js';
import { logger } from '../runtime/observability.js';
import { jsonResponse, type Route } from './http.js';

export type DependencyStatus = 'up' | 'down' | 'degraded' | 'unknown';

export interface DependencyCheck {
  readonly status: DependencyStatus;
  readonly latencyMs: number;
  /** Why a check failed, without internals: `timeout` or `unavailable` (the log has the error). */
  readonly error?: 'timeout' | 'unavailable';
  /** The payment provider check only. */
  readonly breaker?: BreakerState;
}

export interface ReadinessReport {
  /** `not_ready` (503) when the database or the idempotency table is down; `degraded` when only payments are. */
  readonly status: 'ready' | 'degraded' | 'not_ready';
  readonly checks: {
    readonly database: DependencyCheck;
    readonly idempotencyTable: DependencyCheck;
    readonly paymentProvider: DependencyCheck;
  };
}

export interface ReadinessDependencies {
  /** The pool the handlers use, so the check goes the same way (through RDS Proxy in AWS). */
  readonly database: DatabaseProbe;
  readonly dynamoDb: DynamoDBClient;
  readonly idempotencyTableName: string;
  /** The payment gateway's breaker state; undefined when no provider is configured here. */
  readonly paymentBreaker?: () => BreakerState;
  /** Each check's time limit. @default 2000 */
  readonly timeoutMs?: number;
  /**
   * How long a report is reused. The route is public: without this, every unauthenticated request
   * would cost a database query and a DynamoDB call. @default 5000
   */
  readonly cacheMs?: number;
}

/** A table that is not ACTIVE (being created, updated or deleted) cannot take the records checkout writes. */
class TableNotActiveError extends Error {
  override readonly name = 'TableNotActiveError';
}

class CheckTimeoutError extends Error {
  override readonly name = 'CheckTimeoutError';
}

async function timed(name: string, timeoutMs: number, check: (signal: AbortSignal) => Promise<unknown>) {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new CheckTimeoutError(`${name} check exceeded ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(controller.signal), deadline]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) } satisfies DependencyCheck;
  } catch (error) {
    logger.warn('readiness check failed', { dependency: name, error });
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof CheckTimeoutError ? 'timeout' : 'unavailable',
    } satisfies DependencyCheck;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks the dependencies a checkout needs, in parallel, each within its time limit. The payment
 * provider is reported but does not make the service unready: with the breaker open, orders are
 * still accepted and their sagas retry the provider later.
 */
export async function checkReadiness(dependencies: ReadinessDependencies): Promise<ReadinessReport> {
  const timeoutMs = dependencies.timeoutMs ?? 2000;
  const [database, idempotencyTable] = await Promise.all([
    timed('database', timeoutMs, () => dependencies.database.ping()),
    // DescribeTable, not a read: the probe needs no access to any customer's records.
    timed('idempotencyTable', timeoutMs, async (abortSignal) => {
      const { Table } = await dependencies.dynamoDb.send(
        new DescribeTableCommand({ TableName: dependencies.idempotencyTableName }),
        { abortSignal },
      );
      if (Table?.TableStatus !== 'ACTIVE') throw new TableNotActiveError(`table is ${Table?.TableStatus}`);
    }),
  ]);
  const paymentProvider = paymentCheck(dependencies.paymentBreaker);
  const ready = database.status === 'up' && idempotencyTable.status === 'up';
  return {
    status: !ready ? 'not_ready' : paymentProvider.status === 'degraded' ? 'degraded' : 'ready',
    checks: { database, idempotencyTable, paymentProvider },
  };
}

function paymentCheck(breakerState: (() => BreakerState) | undefined): DependencyCheck {
  const started = performance.now();
  if (!breakerState) return { status: 'unknown', latencyMs: 0 };
  const breaker = breakerState();
  return {
    status: breaker === 'closed' ? 'up' : 'degraded',
    latencyMs: Math.round(performance.now() - started),
    breaker,
  };
}

/** `GET /health/live`: the process answers; no dependency is touched. */
export function createLiveRoute(): Route {
  return async () => jsonResponse(200, { status: 'ok' });
}

/**
 * `GET /health/ready`: 200 when checkouts can be taken, 503 otherwise, with every check. One
 * report per `cacheMs` per container; concurrent requests share the check in flight.
 */
export function createReadyRoute(dependencies: ReadinessDependencies): Route {
  const cacheMs = dependencies.cacheMs ?? 5000;
  let cached: { report: Promise<ReadinessReport>; at: number } | undefined;
  return async () => {
    const now = performance.now();
    if (!cached || now - cached.at >= cacheMs) {
      cached = { report: checkReadiness(dependencies), at: now };
    }
    const report = await cached.report;
    return jsonResponse(report.status === 'not_ready' ? 503 : 200, report);
  };
}
