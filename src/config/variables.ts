import { DATABASE_TIMEOUTS, DEFAULT_PAYMENT_TIMEOUT_SECONDS, DEFAULT_POOL_MAX } from './budget.js';
import { flag, group, integer, optionalInteger, optionalText, requiredText, text } from './declarations.js';

/**
 * Every environment variable a deployed function reads, grouped by the concern that reads it. Each
 * handler declares the groups it reads (`src/config/functions.ts`); CDK sets them from these objects
 * (`lib/constructs/function-environment.ts`) and a template test proves each function gets exactly
 * the variables of its groups. Variables the Lambda runtime sets are declared too (`setBy: 'lambda'`),
 * so nobody sets them by hand.
 */

const AWS_REGION = optionalText({
  name: 'AWS_REGION',
  doc: 'The region the function runs in; signs RDS IAM tokens.',
  setBy: 'lambda',
});

/** The Lambda runtime's own variables the code reads. */
export const lambda = group('lambda', 'Set by the Lambda runtime in every function.', {
  region: AWS_REGION,
  functionName: optionalText({
    name: 'AWS_LAMBDA_FUNCTION_NAME',
    doc: 'Present only inside Lambda: tracing is on only there.',
    setBy: 'lambda',
  }),
  xrayDaemonAddress: optionalText({
    name: 'AWS_XRAY_DAEMON_ADDRESS',
    doc: 'Where the X-Ray daemon listens (host:port, UDP) when tracing is active.',
    setBy: 'lambda',
  }),
});

/** Logging, metrics and tracing (Powertools reads some of these itself). */
export const powertools = group('powertools', 'Powertools logger and metrics, tracing.', {
  serviceName: text({
    name: 'POWERTOOLS_SERVICE_NAME',
    doc: 'The service name on every log line, metric and trace.',
    setBy: 'stack',
    defaultValue: 'checkout',
  }),
  metricsNamespace: text({
    name: 'POWERTOOLS_METRICS_NAMESPACE',
    doc: 'The CloudWatch namespace of the EMF metrics.',
    setBy: 'stack',
    defaultValue: 'Checkout',
  }),
  logLevel: text({
    name: 'POWERTOOLS_LOG_LEVEL',
    doc: 'Lowest level logged (read by the Powertools logger).',
    setBy: 'stack',
    defaultValue: 'INFO',
  }),
  traceEnabled: flag({
    name: 'POWERTOOLS_TRACE_ENABLED',
    doc: 'X-Ray subsegments inside Lambda; "false" turns them off.',
    setBy: 'stack-optional',
    defaultValue: true,
  }),
  metricsDisabled: flag({
    name: 'POWERTOOLS_METRICS_DISABLED',
    doc: 'Silences the EMF output outside AWS (read by Powertools metrics).',
    setBy: 'outside-aws',
    defaultValue: false,
  }),
});

/** The database pool (`src/roots/database.ts`): RDS Proxy with IAM auth in AWS, else a URL. */
export const database = group('database', 'The PostgreSQL pool.', {
  url: optionalText({
    name: 'DATABASE_URL',
    doc: 'A postgres:// URL used as is (outside AWS); in AWS the proxy variables apply.',
    setBy: 'outside-aws',
  }),
  proxyEndpoint: optionalText({ name: 'DB_PROXY_ENDPOINT', doc: 'The RDS Proxy host name.', setBy: 'stack' }),
  port: integer({ name: 'DB_PORT', doc: 'The proxy port.', setBy: 'stack', defaultValue: 5432 }),
  name: optionalText({ name: 'DB_NAME', doc: 'The database name.', setBy: 'stack' }),
  user: optionalText({
    name: 'DB_USER',
    doc: 'The database role the IAM token signs in as.',
    setBy: 'stack',
  }),
  poolMax: integer({
    name: 'DB_POOL_MAX',
    doc: "Connections per container: the function's pool size in the budget (docs/adr/0020).",
    setBy: 'stack',
    defaultValue: DEFAULT_POOL_MAX,
  }),
  connectTimeoutSeconds: integer({
    name: 'DB_CONNECT_TIMEOUT_SECONDS',
    doc: 'How long a new connection may take (TCP, TLS, the login at the proxy): the budget says.',
    setBy: 'stack',
    defaultValue: DATABASE_TIMEOUTS.connectTimeoutSeconds,
  }),
  region: AWS_REGION,
});

/** Where the payment gateway calls the provider, how long it waits, when its breaker opens. */
export const paymentProvider = group('paymentProvider', 'The payment provider endpoint and client.', {
  url: requiredText({
    name: 'PAYMENT_PROVIDER_URL',
    doc: "Base URL of the provider's HTTP API.",
    setBy: 'stack',
  }),
  timeoutMs: integer({
    name: 'PAYMENT_TIMEOUT_MS',
    doc: 'Hard client-side timeout of every provider call.',
    setBy: 'stack',
    defaultValue: DEFAULT_PAYMENT_TIMEOUT_SECONDS * 1000,
  }),
  deadlineReserveMs: integer({
    name: 'PAYMENT_DEADLINE_RESERVE_MS',
    doc: "What a provider call leaves of the invocation for the records after it (the function's budget).",
    setBy: 'stack-optional',
    defaultValue: 0,
  }),
  breakerFailureThreshold: integer({
    name: 'PAYMENT_BREAKER_FAILURE_THRESHOLD',
    doc: 'Consecutive failures that open the circuit breaker.',
    setBy: 'stack-optional',
    defaultValue: 5,
  }),
  breakerHalfOpenAfterMs: integer({
    name: 'PAYMENT_BREAKER_HALF_OPEN_AFTER_MS',
    doc: 'How long an open breaker waits before one trial call.',
    setBy: 'stack-optional',
    defaultValue: 60_000,
  }),
  apiKey: optionalText({
    name: 'PAYMENT_PROVIDER_API_KEY',
    doc: 'The API key itself, instead of the secret (outside AWS).',
    setBy: 'outside-aws',
  }),
});

/**
 * The provider's API key in Secrets Manager: for the functions that call the provider, and for the
 * simulated provider, which requires it.
 */
export const providerSecret = group('providerSecret', 'The payment provider credential.', {
  secretArn: optionalText({
    name: 'PAYMENT_PROVIDER_SECRET_ARN',
    doc: 'The secret holding the API key, cached per container for a few minutes (docs/adr/0020).',
    setBy: 'stack',
  }),
});

/** Powertools idempotency records. */
export const idempotency = group('idempotency', 'The idempotency table.', {
  tableName: requiredText({
    name: 'IDEMPOTENCY_TABLE_NAME',
    doc: 'The DynamoDB idempotency table.',
    setBy: 'stack',
  }),
});

/** Per-customer limits; a limit that is unset is off. */
export const customerLimits = group('customerLimits', 'Per-customer request and checkout limits.', {
  tableName: optionalText({
    name: 'CUSTOMER_LIMITS_TABLE_NAME',
    doc: 'The DynamoDB table of the per-minute counters (needed when a limit is set).',
    setBy: 'stack',
  }),
  requestsPerMinute: optionalInteger({
    name: 'CUSTOMER_REQUESTS_PER_MINUTE',
    doc: 'Requests per customer and minute on the customer routes.',
    setBy: 'stack-optional',
  }),
  checkoutsPerMinute: optionalInteger({
    name: 'CUSTOMER_CHECKOUTS_PER_MINUTE',
    doc: 'Checkouts per customer and minute.',
    setBy: 'stack-optional',
  }),
});

/** The operators' switches (docs/adr/0024): checkout reads whether it is stopped. */
export const operatorControls = group('operatorControls', "The operators' switches.", {
  tableName: requiredText({
    name: 'OPERATOR_CONTROLS_TABLE_NAME',
    doc: 'The DynamoDB table of the kill switches and the operator log; checkout only queries the switches.',
    setBy: 'stack',
  }),
});

/** The payment saga: where executions start or are described. */
export const stateMachine = group('stateMachine', 'The payment saga state machine.', {
  arn: requiredText({
    name: 'STATE_MACHINE_ARN',
    doc: "The saga's live alias (starters) or the state machine (describers).",
    setBy: 'stack',
  }),
});

/**
 * Starting saga executions (docs/adr/0019): one short attempt each, and the saga-start queue where
 * a start that failed or was throttled waits for the saga starter.
 */
export const sagaStart = group('sagaStart', 'Starting saga executions and the saga-start queue.', {
  queueUrl: requiredText({
    name: 'SAGA_START_QUEUE_URL',
    doc: 'The SQS saga-start queue.',
    setBy: 'stack',
  }),
  timeoutMs: integer({
    name: 'SAGA_START_TIMEOUT_MS',
    doc: 'How long one StartExecution call may take before it counts as failed (no SDK retries).',
    setBy: 'stack',
    defaultValue: 1_000,
  }),
});

/** The saga starter, the consumer of the saga-start queue. */
export const sagaStarter = group('sagaStarter', 'The saga starter.', {
  startsPerSecond: integer({
    name: 'SAGA_STARTS_PER_SECOND',
    doc: 'Most StartExecution calls per second of one starter container.',
    setBy: 'stack',
    defaultValue: 50,
  }),
});

/** Where failed compensations go. */
export const compensationQueue = group('compensationQueue', 'The compensation queue.', {
  url: requiredText({ name: 'COMPENSATION_QUEUE_URL', doc: 'The SQS compensation queue.', setBy: 'stack' }),
});

/** The compensation worker's view of its queue. */
export const compensationWorker = group('compensationWorker', 'The compensation worker.', {
  maxReceiveCount: integer({
    name: 'COMPENSATION_MAX_RECEIVE_COUNT',
    doc: "The queue's receives before the DLQ: the last attempt records the compensation FAILED.",
    setBy: 'stack',
    defaultValue: 5,
  }),
});

/** The crash-recovery sweeper. */
export const sweeper = group('sweeper', 'The order sweeper.', {
  stuckAfterSeconds: integer({
    name: 'SWEEPER_STUCK_AFTER_SECONDS',
    doc: 'How long an order sits in PENDING/AUTHORIZED before the sweeper looks at it.',
    setBy: 'stack-optional',
    defaultValue: 300,
  }),
});

/** The outbox relay. */
export const outboxRelay = group('outboxRelay', 'The outbox relay.', {
  eventBusName: requiredText({
    name: 'EVENT_BUS_NAME',
    doc: 'The EventBridge bus events go to.',
    setBy: 'stack',
  }),
  batchSize: integer({
    name: 'OUTBOX_BATCH_SIZE',
    doc: 'Events per round.',
    setBy: 'stack-optional',
    defaultValue: 50,
  }),
  leaseSeconds: integer({
    name: 'OUTBOX_LEASE_SECONDS',
    doc: 'How long a claimed event is left to this relay.',
    setBy: 'stack-optional',
    defaultValue: 60,
  }),
  maxBackoffSeconds: integer({
    name: 'OUTBOX_MAX_BACKOFF_SECONDS',
    doc: 'The longest wait before a failed event is tried again.',
    setBy: 'stack-optional',
    defaultValue: 900,
  }),
  stopMarginMs: integer({
    name: 'OUTBOX_STOP_MARGIN_MS',
    doc: 'No new round with less than this left of the invocation.',
    setBy: 'stack-optional',
    defaultValue: 15_000,
  }),
});

/** The schema migration runner. */
export const migrations = group('migrations', 'The schema migration runner.', {
  applicationSecretArn: optionalText({
    name: 'APP_DB_SECRET_ARN',
    doc: "The application role's secret: its password is set after migrating.",
    setBy: 'stack',
  }),
});

/** Every group, for the documentation and the template test. */
export const CONFIG_GROUPS = [
  lambda,
  powertools,
  database,
  paymentProvider,
  providerSecret,
  idempotency,
  customerLimits,
  operatorControls,
  stateMachine,
  sagaStart,
  sagaStarter,
  compensationQueue,
  compensationWorker,
  sweeper,
  outboxRelay,
  migrations,
] as const;
