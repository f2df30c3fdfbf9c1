import { LOCAL_REGION } from '../aws/local-account.js';
import type { TemplateFunction, TemplateQueue } from './template.js';

/**
 * Every way a local function's settings differ from what the template gives it — the one place
 * that says so (docs/adr/0013, README "Local mode"). Everything not named here is the template's:
 * handler, memory, timeout, reserved concurrency, every other environment variable, the role.
 *
 * - Database: no RDS Proxy and no IAM token. `DB_PROXY_ENDPOINT`, `DB_PORT`, `DB_NAME` and `DB_USER`
 *   become `DATABASE_URL`: the local PostgreSQL (or PgBouncer) as the same user (`DB_USER`), with
 *   the password local mode sets at each start. Its connections carry the function's name as
 *   `application_name` (`PGAPPNAME`, which postgres.js reads; not through PgBouncer), so `pg_stat_activity` and the
 *   bench's cost per checkout (docs/capacity.md) can tell which function a backend serves.
 * - Payment provider credential: no Secrets Manager stand-in. `PAYMENT_PROVIDER_SECRET_ARN`
 *   becomes `PAYMENT_PROVIDER_API_KEY`, the key the local simulated provider was started with.
 * - Compressed time: the breaker's half-open delay is multiplied by `LOCAL_TIME_SCALE`, the provider
 *   client timeout is `PAYMENT_TIMEOUT_MS` of `npm start`'s environment (default 2000 ms, so that a
 *   never-answering provider fails in seconds), and the visibility timeout of every queue an event
 *   source mapping drains (the compensation queue, the saga-start queue) is
 *   `LOCAL_COMPENSATION_RETRY_SECONDS`, so each mapping works in rounds of up to its
 *   `MaximumConcurrency` batches and receives again only when a round is done (see
 *   {@link localVisibilityTimeoutSeconds} and local/aws/sqs-poller.ts). A message the saga starter hands back early
 *   (`ChangeMessageVisibility`) counts one more receive locally than in AWS: local-aws-sqs counts a
 *   visibility change as a receive.
 * - Quotas: the local Step Functions endpoint holds StartExecution to a token bucket of
 *   `LOCAL_SFN_START_BURST` tokens refilled at `LOCAL_SFN_START_RATE` a second (AWS's quota in the
 *   large regions by default: 1,300 and 300), answering a call beyond it as AWS does
 *   (`ThrottlingException`). DescribeExecution is not held to its own quota.
 * - Per-customer limits: `CUSTOMER_REQUESTS_PER_MINUTE` and `CUSTOMER_CHECKOUTS_PER_MINUTE` come
 *   from `npm start`'s environment, unset meaning off, so load tests are not throttled by a stage's
 *   limits.
 * - Observability: `POWERTOOLS_LOG_LEVEL` (default INFO) and `POWERTOOLS_METRICS_DISABLED` come
 *   from `npm start`'s environment; tracing is off (`POWERTOOLS_TRACE_ENABLED=false`: no X-Ray daemon).
 * - Schedules: the sweeper (`lambdas/workers/sweeper.ts`) runs every `LOCAL_SWEEPER_INTERVAL_MS`
 *   with `SWEEPER_STUCK_AFTER_SECONDS` = `LOCAL_SWEEPER_STUCK_AFTER_SECONDS`, and once at start with
 *   0 (sagas in flight when the stack stopped died with it). The outbox relay function is not run
 *   (see {@link OUTBOX_RELAY_ENTRY}); nor are functions no local event reaches (the migration
 *   runner: local mode migrates at start; the simulated provider: it runs in the stack process).
 * - API: no API keys or usage plans (`ApiKeyRequired` is not checked) and no request models; the
 *   handlers validate every body themselves.
 * - AWS: endpoints point at the local stand-ins, and the credentials name the function's role, so
 *   the stand-ins can enforce that role's policy (local/lambda/iam.ts).
 */

export interface LocalSettings {
  /** Added to the environment of this function (e.g. {@link sweeperEnvironment}). */
  readonly overrides?: (fn: TemplateFunction) => Readonly<Record<string, string>>;
  /** The database URL of a user, with the password local mode gave that role. */
  readonly databaseUrlFor: (user: string) => string;
  /**
   * Whether the functions' connections carry the function's name (`PGAPPNAME`). Not through
   * PgBouncer: it replays a client's `application_name` on each server connection it hands that
   * client, a `SET` in every transaction that lands on another function's connection.
   * @default true
   */
  readonly namedConnections?: boolean;
  readonly paymentProviderApiKey: string;
  readonly timeScale: number;
  /** `AWS_ENDPOINT_URL_<SERVICE>` values. */
  readonly awsEndpoints: Readonly<Record<string, string>>;
  /** The access key that names the function's role to the stand-ins. */
  readonly accessKeyId: string;
  /** The environment `npm start` was given. */
  readonly startEnvironment: NodeJS.ProcessEnv;
}

/** Variables that describe the RDS Proxy connection, replaced by `DATABASE_URL`. */
const PROXY_VARIABLES = ['DB_PROXY_ENDPOINT', 'DB_PORT', 'DB_NAME', 'DB_USER'];

/** The container environment of a function: the template's, with the differences above. */
export function localEnvironment(fn: TemplateFunction, local: LocalSettings): Record<string, string> {
  const environment: Record<string, string> = { ...fn.environment };
  const start = local.startEnvironment;

  if (environment.DB_PROXY_ENDPOINT !== undefined) {
    const user = environment.DB_USER ?? '';
    for (const name of PROXY_VARIABLES) delete environment[name];
    environment.DATABASE_URL = local.databaseUrlFor(user);
    if (local.namedConnections !== false) environment.PGAPPNAME = fn.name;
  }
  if (environment.PAYMENT_PROVIDER_SECRET_ARN !== undefined) {
    delete environment.PAYMENT_PROVIDER_SECRET_ARN;
    environment.PAYMENT_PROVIDER_API_KEY = local.paymentProviderApiKey;
  }
  if (environment.PAYMENT_PROVIDER_URL !== undefined) {
    environment.PAYMENT_TIMEOUT_MS = start.PAYMENT_TIMEOUT_MS || '2000';
    const halfOpenMs = Number(environment.PAYMENT_BREAKER_HALF_OPEN_AFTER_MS ?? 60_000);
    environment.PAYMENT_BREAKER_HALF_OPEN_AFTER_MS = String(
      Math.max(50, Math.round(halfOpenMs * local.timeScale)),
    );
  }
  for (const name of ['CUSTOMER_REQUESTS_PER_MINUTE', 'CUSTOMER_CHECKOUTS_PER_MINUTE']) {
    if (environment[name] === undefined) continue;
    const value = start[name];
    if (value) environment[name] = value;
    else delete environment[name];
  }
  environment.POWERTOOLS_LOG_LEVEL = start.POWERTOOLS_LOG_LEVEL || 'INFO';
  if (start.POWERTOOLS_METRICS_DISABLED)
    environment.POWERTOOLS_METRICS_DISABLED = start.POWERTOOLS_METRICS_DISABLED;
  environment.POWERTOOLS_TRACE_ENABLED = 'false';
  // NODE_OPTIONS are the container's Node flags (see nodeFlags), not an environment variable here.
  delete environment.NODE_OPTIONS;

  return {
    ...environment,
    ...local.overrides?.(fn),
    // What the Lambda runtime sets.
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    LOCAL_LAMBDA_FUNCTION_ARN: fn.arn,
    AWS_ACCESS_KEY_ID: local.accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'local',
    ...local.awsEndpoints,
    PATH: start.PATH ?? '/usr/bin:/bin',
    TZ: ':UTC',
  };
}

/** The container's Node flags: the function's NODE_OPTIONS, as the Lambda runtime applies them. */
export function nodeFlags(fn: TemplateFunction): string[] {
  return (fn.environment.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Containers a function may run at once: its reserved concurrency, capped locally by
 * `LOCAL_LAMBDA_MAX_CONTAINERS` (default 8) so that one busy function cannot take every core.
 */
export function localConcurrency(fn: TemplateFunction, cap: number): number {
  return Math.max(1, Math.min(fn.reservedConcurrency ?? cap, cap));
}

/**
 * A queue's visibility timeout locally: the compensation retry delay (`LOCAL_COMPENSATION_RETRY_SECONDS`)
 * for queues an event source mapping drains, compressed time instead of the template's minutes.
 * Retention and the redrive policy (`maxReceiveCount`) are the template's. Because seconds no
 * longer outlast the function's timeout as the template's visibility does (6 × the worker's
 * timeout), the mapping works in rounds: up to its `MaximumConcurrency` batches at once, and no
 * receive until the round is done (local/aws/sqs-poller.ts). A receive during a round could be
 * handed a message still being worked on, counting a receive no attempt made. (Extending the
 * batch's visibility while it runs is no remedy: local-aws-sqs counts a visibility change as a
 * receive.)
 */
export function localVisibilityTimeoutSeconds(
  queue: TemplateQueue,
  drained: boolean,
  retrySeconds: number,
): number {
  return drained ? retrySeconds : queue.visibilityTimeoutSeconds;
}

/** The compensation worker's entry: its queue is the one restored after a restart (local/stack.ts). */
export const COMPENSATION_WORKER_ENTRY = 'lambdas/workers/compensation-worker.ts';

/** The sweeper's entry: compressed time for its schedule and its "stuck after". */
export const SWEEPER_ENTRY = 'lambdas/workers/sweeper.ts';
/**
 * The outbox relay's entry. It is not run locally: there is no EventBridge stand-in, and the
 * local outbox relay (local/event-sink.ts) drains the same outbox to `<data>/events.jsonl`.
 */
export const OUTBOX_RELAY_ENTRY = 'lambdas/workers/outbox-relay.ts';

/** Settings of the sweeper function locally (`LOCAL_SWEEPER_*`), by environment variable. */
export function sweeperEnvironment(stuckAfterSeconds: number): Record<string, string> {
  return { SWEEPER_STUCK_AFTER_SECONDS: String(stuckAfterSeconds) };
}
