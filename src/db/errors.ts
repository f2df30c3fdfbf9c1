import postgres from 'postgres';

/**
 * The database could not do the work right now: the connection was lost or refused, the server
 * is shutting down, restarting or failing over, it has no connection slot left, or the statement
 * lost a serialization race, a deadlock, or its lock or statement timeout. Nothing was committed
 * by the failed statement, and the same call may succeed a moment later.
 *
 * Its `name` is part of the contract: every Task of the payment saga retries it with a backoff
 * that outlasts an RDS Multi-AZ failover (statemachines/payment-saga.asl.json), and the HTTP layer
 * answers it with 503 `SERVICE_UNAVAILABLE` and `Retry-After`. It is never a payment outcome, so
 * it never starts a compensation on its own (docs/architecture.md, "Infrastructure faults").
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

/** Network-level failures of postgres.js (and Node) reaching the database or the proxy. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * SQLSTATEs that mean "try again": serialization failure and deadlock (40001, 40P01), lock not
 * available and statement or lock timeout (55P03, 57014), admin shutdown, crash shutdown and
 * "cannot connect now" during startup or failover (57P01-57P03), too many connections (53300),
 * plus every connection exception (class 08).
 */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300']);

/** True when the error (or one of its causes) is a database failure that a retry may not hit. */
export function isTransientDatabaseError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof DatabaseUnavailableError) return true;
    if (current instanceof postgres.PostgresError) {
      return current.code.startsWith('08') || RETRYABLE_SQLSTATES.has(current.code);
    }
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
    // AggregateError: Node's connect() reports one error per address it tried (IPv4 and IPv6).
    if (
      current instanceof AggregateError &&
      current.errors.some((inner) => isTransientDatabaseError(inner))
    ) {
      return true;
    }
    current = current.cause;
  }
  return false;
}

/** The error as the rest of the service sees it: a transient driver failure becomes {@link DatabaseUnavailableError}. */
export function toDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isTransientDatabaseError(error)) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new DatabaseUnavailableError(`database unavailable (${reason.slice(0, 300)})`, { cause: error });
}

/**
 * Awaits one database call and translates its failure with {@link toDatabaseError}. Every store of
 * `src/db/` runs its statements through this, so no caller ever sees a driver error code.
 */
export async function query<T>(statement: PromiseLike<T>): Promise<T> {
  try {
    return await statement;
  } catch (error) {
    throw toDatabaseError(error);
  }
}

// postgres.js connection codes, socket errors, and PostgreSQL classes 08 (connection exception)
// and 28 (invalid authorization: an IAM grant that has not propagated yet).
const NOT_REACHABLE_YET_CODES = new Set([
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Errors that say "not reachable yet" on a first deploy (the proxy registering its target, an IAM
 * grant propagating), never errors of a migration itself (SQL, checksum, file name).
 */
export function isDatabaseNotReachableYet(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return NOT_REACHABLE_YET_CODES.has(code) || code.startsWith('08') || code.startsWith('28');
}
