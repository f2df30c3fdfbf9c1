import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { Sql } from 'postgres';
import type { RouteAuth } from '../src/api/routes.js';
import { createSql } from '../src/db/client.js';
import { CompensationStore } from '../src/db/compensations.js';
import { migrate } from '../src/db/migrations.js';
import { APPLICATION_ROLE, setRolePassword, urlForRole } from '../src/db/roles.js';
import { describeError } from '../src/runtime/errors.js';
import { compensationMessageOf } from '../src/saga/compensation-message.js';
import { startLocalApiServer } from './api-server.js';
import type { Pausable } from './aws/control-plane-endpoint.js';
import { createLocalDynamoDbClient, createTable, startLocalDynamoDb } from './aws/dynamodb.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws/local-account.js';
import { createLocalSqsClient, startLocalSqs } from './aws/sqs.js';
import { startSqsPoller } from './aws/sqs-poller.js';
import { type StartExecutionQuota, startStepFunctionsEndpoint } from './aws/step-functions-endpoint.js';
import { seedDemoCatalog } from './demo-catalog.js';
import { LocalEventSink, startLocalOutboxRelay } from './event-sink.js';
import {
  INJECTED_FAULTS_FILE,
  injectRecordFailuresAtRate,
  installRecordFailures,
  removeRecordFailures,
} from './faults/record-failures.js';
import { type LocalBuild, prepareLocalBuild } from './lambda/build.js';
import { accessKeyOf, LocalFunctions } from './lambda/functions.js';
import { startIamProxy } from './lambda/iam.js';
import {
  COMPENSATION_WORKER_ENTRY,
  localVisibilityTimeoutSeconds,
  OUTBOX_RELAY_ENTRY,
  SWEEPER_ENTRY,
  sweeperEnvironment,
} from './lambda/local-differences.js';
import { createTemplateStateMachine } from './lambda/state-machine.js';
import {
  type AuthorizationType,
  CloudAssembly,
  IntrinsicResolver,
  idOf,
  type LocalApplication,
  type ResourceId,
  readLocalApplication,
  readQueues,
  type TemplateEventSourceMapping,
  type TemplateFunction,
  type TemplateTable,
} from './lambda/template.js';
import { pausable, startLocalOperatorSwitches } from './operator-switches.js';
import { JournaledProviderStore } from './payment-provider/journaled-store.js';
import { startSimulatedProvider } from './payment-provider/server.js';
import { startPgBouncer } from './pgbouncer.js';
import { findFreePort, isPortFree } from './ports.js';
import { startLocalPostgres, stopOrphanedPostgres } from './postgres.js';
import { type LocalStackState, STATE_FILE } from './stack-state.js';
import { repeatEvery } from './timers.js';
import { UsageMeter } from './usage.js';

/** Everything `npm start` needs to know (docs/local.md). */
export interface LocalStackConfig {
  readonly dataDir: string;
  readonly apiPort: number;
  readonly providerPort: number;
  readonly postgresPort: number;
  readonly sqsPort: number;
  readonly dynamoDbPort: number;
  readonly stepFunctionsPort: number;
  /** Use this PostgreSQL instead of the embedded one. */
  readonly databaseUrl?: string;
  /** Multiplies every saga Retry interval: 0.001 turns the 60 s capture backoff into 60 ms. */
  readonly timeScale: number;
  /** How long an order may sit in PENDING/AUTHORIZED before the sweeper looks at it. */
  readonly sweeperStuckAfterSeconds: number;
  readonly sweeperIntervalMs: number;
  /**
   * A cloud assembly to run instead of synthesizing the CDK app (`LOCAL_CDK_OUT`), e.g. a copy of
   * the synthesized one edited to see how the stack behaves without a grant. @default - synthesized
   */
  readonly cdkOutDir?: string;
  /** Containers per function at most (`LOCAL_LAMBDA_MAX_CONTAINERS`), below its reserved concurrency. */
  readonly maxContainersPerFunction: number;
  /**
   * Seconds a message an event source mapping failed waits before it is received again (the
   * visibility timeout of the queues those mappings drain: the compensation queue, the saga-start queue).
   */
  readonly compensationRetrySeconds: number;
  /**
   * The StartExecution quota of the local Step Functions endpoint (`LOCAL_SFN_START_RATE`,
   * `LOCAL_SFN_START_BURST`). @default AWS's, for the large regions (300 a second, 1,300 burst)
   */
  readonly stepFunctionsStartQuota?: StartExecutionQuota;
  /** Put PgBouncer (transaction mode, the RDS Proxy stand-in) between the handlers and PostgreSQL. */
  readonly pgBouncer: boolean;
  /**
   * Server connections PgBouncer keeps to PostgreSQL when `pgBouncer` is on
   * (`LOCAL_PGBOUNCER_SERVER_CONNECTIONS`): fewer backends, each given statements more often, as
   * RDS Proxy's pool is under load. @default `DEFAULT_POOL_SIZE` of local/pgbouncer.ts
   */
  readonly pgBouncerServerConnections?: number;
  /**
   * Share (0..1) of successful provider side effects whose database record is made to fail
   * (`LOCAL_FAULT_RECORD_FAILURE_RATE`, for chaos runs; each injection is logged to
   * `injected-faults.jsonl` in the data folder).
   * @default 0
   */
  readonly recordFailureRate?: number;
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly providerUrl: string;
  /** Stops taking requests, lets those in flight finish, then stops every component. */
  close(): Promise<void>;
}

export { type LocalStackState, STATE_FILE } from './stack-state.js';

/** A configuration problem the user can fix; printed without a stack trace. */
export class LocalStackConfigError extends Error {
  override readonly name = 'LocalStackConfigError';
}

/** What each phase of the start is given: the configuration, where to report, what to stop. */
interface StartContext {
  readonly config: LocalStackConfig;
  readonly progress: (step: string) => void;
  readonly log: (line: string) => void;
  /** Everything started so far, stopped in reverse order by `close()` or a failed start. */
  readonly stops: Stops;
  /** What AWS would bill, counted by the stand-ins; the bench reads it (GET /_local/usage). */
  readonly usage: UsageMeter;
}

class Stops {
  private readonly stops: [string, () => Promise<void>][] = [];

  constructor(private readonly progress: (step: string) => void) {}

  push(name: string, stop: () => Promise<void>): void {
    this.stops.push([name, stop]);
  }

  async stopAll(): Promise<void> {
    for (const [name, stop] of this.stops.splice(0).reverse()) {
      this.progress(`stopping ${name}`);
      await stop().catch((error: unknown) => this.progress(`stopping ${name} failed: ${String(error)}`));
    }
  }
}

/**
 * Starts the whole system on this machine (docs/adr/0005, docs/adr/0013) from the synthesized CDK
 * app: PostgreSQL, DynamoDB and SQS stand-ins with the template's tables and queues behind IAM
 * checks, the simulated payment provider, every function in Lambda-like containers, the template's
 * state machine (StartExecution held to AWS's quota), every queue consumer behind its event
 * source mapping (the compensation worker, the saga starter), the sweeper on its schedule and the
 * API's methods behind a local API Gateway. `progress` is told each step as it
 * begins; `log` gets the functions' log lines (cold starts, timeouts, denied calls).
 */
export async function startLocalStack(
  config: LocalStackConfig,
  progress: (step: string) => void,
  log: (line: string) => void = (line) => console.log(line),
): Promise<LocalStack> {
  const context: StartContext = {
    config,
    progress,
    log,
    stops: new Stops(progress),
    usage: new UsageMeter(),
  };
  const stopBuilding = new AbortController();
  let building: Promise<LocalBuild> | undefined;
  try {
    await checkBeforeStart(context);
    // The synth takes most of a cold start: it runs while PostgreSQL starts and migrates.
    building = prepareLocalBuild({
      progress,
      signal: stopBuilding.signal,
      ...(config.cdkOutDir ? { assemblyDir: config.cdkOutDir } : {}),
    });
    building.catch(() => {});
    const database = await startDatabase(context);
    const build = await building;
    const assembly = new CloudAssembly(build.assemblyDir);
    const stores = await startStores(context, assembly);
    const handlerDatabaseUrl = await startPgBouncerIfAsked(context, database.applicationUrl);
    const provider = await startProvider(context, database.sql);
    const app = await readApplication(assembly, stores, provider.url);
    const functions = startFunctions(context, {
      app,
      build,
      providerKey: provider.key,
      databaseUrlFor: (user) => (user === APPLICATION_ROLE ? handlerDatabaseUrl : database.url),
    });
    await enforceIam(context, functions, stores);
    const saga = await startSaga(context, app, functions);
    const events = await startEventSources(context, { app, functions, stores, sql: database.sql });
    const jobs = await startSchedules(context, { app, functions, appSql: database.appSql });
    // Pollers and jobs run behind the operators' switches, which start them (local/operator-switches.ts).
    const switches = await startLocalOperatorSwitches({
      app,
      dataDir: config.dataDir,
      dynamoDbEndpoint: endpointsOf(config).dynamodb,
      mappings: events.mappings,
      jobs,
      workerEntry: COMPENSATION_WORKER_ENTRY,
      functionOf: (mapping) => functions.find(mapping.function),
    });
    context.stops.push("the operators' switches", () => switches.endpoint.close());
    const compensationQueue = events.compensationQueue;
    const api = await startApi(context, app, functions);
    await writeStackState(config.dataDir, {
      pid: process.pid,
      apiUrl: api.url,
      providerUrl: provider.url,
      sqsEndpoint: stores.sqsEndpoint,
      compensationQueueArn: queueArn(compensationQueue.queueUrl),
      compensationDlqArn: queueArn(compensationQueue.dlqUrl),
      stepFunctionsEndpoint: saga.endpoint,
      stateMachineArn: saga.stateMachineArn,
      switches: switches.state,
    });
    return { apiUrl: api.url, providerUrl: provider.url, close: () => context.stops.stopAll() };
  } catch (error) {
    // A synth still running would outlive this process.
    stopBuilding.abort();
    await building?.catch(() => {});
    await context.stops.stopAll();
    throw error;
  }
}

/** A PostgreSQL a crashed run left behind is stopped; every port must be free. */
async function checkBeforeStart({ config, progress }: StartContext): Promise<void> {
  if (!config.databaseUrl && (await stopOrphanedPostgres(path.join(config.dataDir, 'postgres')))) {
    progress('stopped the PostgreSQL a crashed earlier run left behind');
  }
  progress('checking ports');
  await assertPortsFree({
    PORT: config.apiPort,
    PAYMENT_PROVIDER_PORT: config.providerPort,
    LOCAL_SQS_PORT: config.sqsPort,
    LOCAL_DYNAMODB_PORT: config.dynamoDbPort,
    LOCAL_STEPFUNCTIONS_PORT: config.stepFunctionsPort,
    ...(config.databaseUrl ? {} : { LOCAL_POSTGRES_PORT: config.postgresPort }),
  });
  await mkdir(config.dataDir, { recursive: true });
}

interface Database {
  /** The owner's URL and pool: they only migrate, seed, restore and inject faults. */
  readonly url: string;
  readonly sql: Sql;
  /** The application role's, with a new password on every start: what the functions connect as. */
  readonly applicationUrl: string;
  readonly appSql: Sql;
}

/** PostgreSQL (embedded unless `DATABASE_URL`), migrated, the demo catalog seeded. */
async function startDatabase({ config, progress, stops }: StartContext): Promise<Database> {
  let url = config.databaseUrl;
  if (!url) {
    progress(`starting PostgreSQL 16 on 127.0.0.1:${config.postgresPort}`);
    const postgres = await startLocalPostgres({
      dataDir: path.join(config.dataDir, 'postgres'),
      port: config.postgresPort,
    });
    stops.push('PostgreSQL', () => postgres.stop());
    url = postgres.adminUrl;
  } else {
    progress('connecting to DATABASE_URL');
  }
  const sql = createSql(url, { max: 4, connectTimeoutSeconds: 5 });
  stops.push('the database pool', () => sql.end({ timeout: 5 }));
  await assertDatabaseReachable(sql);

  progress('applying migrations and seeding the demo catalog');
  await migrate(sql, { directory: path.resolve(import.meta.dirname, '../migrations') });
  await seedDemoCatalog(sql);
  // Everything after this point connects as the application role, as the functions do in AWS.
  const applicationPassword = randomBytes(24).toString('base64url');
  await setRolePassword(sql, APPLICATION_ROLE, applicationPassword);
  const applicationUrl = urlForRole(url, APPLICATION_ROLE, applicationPassword);
  // Named, so pg_stat_activity and the bench's cost per checkout tell the relay's backends apart.
  const appSql = createSql(applicationUrl, {
    max: 4,
    connectTimeoutSeconds: 5,
    applicationName: LOCAL_OUTBOX_RELAY_APPLICATION_NAME,
  });
  stops.push("the application role's pool", () => appSql.end({ timeout: 5 }));
  return { url, sql, applicationUrl, appSql };
}

interface Stores {
  readonly dynamoDbEndpoint: string;
  /** The SQS stand-in itself, on a port of its own behind the IAM check. */
  readonly sqsPort: number;
  readonly sqsEndpoint: string;
  /** The stack's own client, straight to the stand-in, unchecked, as an administrator would. */
  readonly sqs: SQSClient;
  /** The template's queues' URLs by resource id. */
  readonly queueUrls: ReadonlyMap<string, string>;
}

/** DynamoDB (dynalite) and SQS, the template's queues created. */
async function startStores(
  { config, progress, stops, usage }: StartContext,
  assembly: CloudAssembly,
): Promise<Stores> {
  progress(`starting DynamoDB (dynalite) on 127.0.0.1:${config.dynamoDbPort}`);
  const dynamo = await startLocalDynamoDb({
    port: await findFreePort(),
    usage,
    dataDir: path.join(config.dataDir, 'dynamodb'),
  });
  stops.push('DynamoDB', () => dynamo.close());

  progress(`starting SQS on 127.0.0.1:${config.sqsPort}`);
  const sqsPort = await findFreePort();
  const sqsServer = await startLocalSqs({ port: sqsPort, advertisedPort: config.sqsPort, usage });
  stops.push('SQS', () => sqsServer.close());
  const sqs = createLocalSqsClient(`http://127.0.0.1:${sqsPort}`);
  stops.push('the SQS client', async () => sqs.destroy());
  const queueUrls = await createTemplateQueues(sqs, assembly, config.compensationRetrySeconds);
  return { dynamoDbEndpoint: dynamo.endpoint, sqsPort, sqsEndpoint: sqsServer.endpoint, sqs, queueUrls };
}

/** The handlers' database URL: PgBouncer's in transaction mode when asked, else the application role's. */
async function startPgBouncerIfAsked({ config, progress, stops }: StartContext, applicationUrl: string) {
  if (!config.pgBouncer) return applicationUrl;
  progress('starting PgBouncer (transaction mode) in front of PostgreSQL');
  const bouncer = await startPgBouncer({
    serverUrl: applicationUrl,
    port: await findFreePort(),
    workDir: path.join(config.dataDir, 'pgbouncer'),
    ...(config.pgBouncerServerConnections ? { poolSize: config.pgBouncerServerConnections } : {}),
  });
  stops.push('PgBouncer', () => bouncer.stop());
  return bouncer.url;
}

/**
 * The simulated payment provider, with the record failures of `LOCAL_FAULT_RECORD_FAILURE_RATE`
 * injected at the database (local/faults/record-failures.ts) when asked, and removed otherwise.
 */
async function startProvider(
  { config, progress, stops }: StartContext,
  sql: Sql,
): Promise<{ readonly url: string; readonly key: string }> {
  const recordFailureRate = config.recordFailureRate ?? 0;
  const faultsFile = path.join(config.dataDir, INJECTED_FAULTS_FILE);
  if (recordFailureRate > 0) {
    progress(
      `injecting record failures after ${recordFailureRate * 100} % of provider side effects (${faultsFile})`,
    );
    await installRecordFailures(sql);
  } else {
    await removeRecordFailures(sql);
  }

  progress(`starting the simulated payment provider on 127.0.0.1:${config.providerPort}`);
  // The payment routes want a credential as in AWS; the ledger and fault controls stay open locally.
  const key = randomBytes(24).toString('base64url');
  const provider = await startSimulatedProvider({
    port: config.providerPort,
    credential: { key, scope: 'payments' },
    store: await JournaledProviderStore.open(path.join(config.dataDir, 'payment-provider.jsonl')),
    ...(recordFailureRate > 0
      ? { afterSideEffect: injectRecordFailuresAtRate({ sql, rate: recordFailureRate, file: faultsFile }) }
      : {}),
  });
  stops.push('the payment provider', () => provider.close());
  return { url: provider.url, key };
}

/** The template, resolved against what runs here (local/lambda/local-differences.ts); its tables created. */
async function readApplication(
  assembly: CloudAssembly,
  stores: Stores,
  providerUrl: string,
): Promise<LocalApplication> {
  const app = readLocalApplication(
    assembly,
    new IntrinsicResolver(assembly, (resource, attribute) => {
      if (resource.type === 'AWS::SQS::Queue' && (attribute === undefined || attribute === 'QueueUrl')) {
        return stores.queueUrls.get(idOf(resource));
      }
      if (resource.type === 'AWS::RDS::DBProxy' && attribute === 'Endpoint') return LOCAL_DATABASE_HOST;
      if (resource.type === 'AWS::Lambda::Url' && attribute === 'FunctionUrl') return providerUrl;
      return undefined;
    }),
  );
  for (const table of app.tables) await createTemplateTable(stores.dynamoDbEndpoint, table);
  return app;
}

/** The endpoints the functions call: the IAM checks in front of the stand-ins. */
function endpointsOf(config: LocalStackConfig) {
  return {
    dynamodb: `http://127.0.0.1:${config.dynamoDbPort}`,
    sqs: `http://127.0.0.1:${config.sqsPort}`,
    sfn: `http://127.0.0.1:${config.stepFunctionsPort}`,
  };
}

/** Every function of the template, in containers started on demand. */
function startFunctions(
  { config, log, stops, usage }: StartContext,
  options: {
    readonly app: LocalApplication;
    readonly build: LocalBuild;
    readonly providerKey: string;
    readonly databaseUrlFor: (user: string) => string;
  },
): LocalFunctions {
  const endpoints = endpointsOf(config);
  const functions = new LocalFunctions({
    app: options.app,
    build: options.build,
    settings: {
      databaseUrlFor: options.databaseUrlFor,
      namedConnections: !config.pgBouncer,
      paymentProviderApiKey: options.providerKey,
      timeScale: config.timeScale,
      awsEndpoints: {
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_SFN: endpoints.sfn,
      },
      startEnvironment: process.env,
      overrides: (fn) =>
        fn.entry === SWEEPER_ENTRY ? sweeperEnvironment(config.sweeperStuckAfterSeconds) : {},
    },
    maxContainersPerFunction: config.maxContainersPerFunction,
    usage,
    log,
  });
  stops.push("the functions' containers", () => functions.close());
  return functions;
}

/** The IAM checks in front of DynamoDB and SQS, on the ports the functions are given. */
async function enforceIam(
  { config, progress, log, stops }: StartContext,
  functions: LocalFunctions,
  stores: Stores,
) {
  progress("enforcing IAM: the DynamoDB, SQS and Step Functions endpoints check each role's policy");
  for (const [service, port, target] of [
    ['dynamodb', config.dynamoDbPort, stores.dynamoDbEndpoint],
    ['sqs', config.sqsPort, `http://127.0.0.1:${stores.sqsPort}`],
  ] as const) {
    const proxy = await startIamProxy({
      service,
      port,
      target,
      principals: functions.principals,
      log: (line) => log(`[iam] AccessDenied: ${line}`),
    });
    stops.push(`the ${service} IAM check`, () => proxy.close());
  }
}

/** The template's state machine behind a Step Functions endpoint and its IAM check. */
async function startSaga(
  { config, progress, log, stops, usage }: StartContext,
  app: LocalApplication,
  functions: LocalFunctions,
): Promise<{ readonly endpoint: string; readonly stateMachineArn: string }> {
  const stateMachine = app.stateMachines[0];
  if (!stateMachine) throw new LocalStackConfigError('the CDK app defines no state machine');
  progress(`starting the payment saga (${stateMachine.name}, from the synthesized template)`);
  const machineSqs = roleClient(SQSClient, endpointsOf(config).sqs, stateMachine.role);
  stops.push("the state machine's SQS client", async () => machineSqs.destroy());
  const machine = createTemplateStateMachine({
    stateMachine,
    functions,
    sqsClient: machineSqs,
    retryIntervalScale: config.timeScale,
    usage,
  });
  const stepFunctions = await startStepFunctionsEndpoint({
    machine,
    port: await findFreePort(),
    usage,
    ...(config.stepFunctionsStartQuota ? { startExecutionQuota: config.stepFunctionsStartQuota } : {}),
  });
  stops.push('Step Functions', () => stepFunctions.close());
  const sfnProxy = await startIamProxy({
    service: 'states',
    port: config.stepFunctionsPort,
    target: stepFunctions.endpoint,
    principals: functions.principals,
    log: (line) => log(`[iam] AccessDenied: ${line}`),
  });
  stops.push('the Step Functions IAM check', () => sfnProxy.close());
  return { endpoint: sfnProxy.endpoint, stateMachineArn: machine.stateMachineArn };
}

/**
 * Every event source mapping of the template behind a poller of its own, after the compensation
 * queue got back what the audit table says it held (the local SQS keeps messages in memory).
 * Returns the compensation queue and its DLQ.
 */
async function startEventSources(
  { config, progress, log, stops }: StartContext,
  options: {
    readonly app: LocalApplication;
    readonly functions: LocalFunctions;
    readonly stores: Stores;
    readonly sql: Sql;
  },
): Promise<{
  readonly compensationQueue: { readonly queueUrl: string; readonly dlqUrl: string };
  /** Each mapping's poller, not started: the operators' switches start it. */
  readonly mappings: { readonly mapping: TemplateEventSourceMapping; readonly runner: Pausable }[];
}> {
  const { app, functions, stores } = options;
  const mappings: { mapping: TemplateEventSourceMapping; runner: Pausable }[] = [];
  const compensationMapping = app.eventSourceMappings.find(
    (mapping) => functions.find(mapping.function).entry === COMPENSATION_WORKER_ENTRY,
  );
  if (!compensationMapping) {
    throw new LocalStackConfigError(
      `the CDK app has no event source mapping for ${COMPENSATION_WORKER_ENTRY}`,
    );
  }
  const compensationQueue = {
    queueUrl: stores.queueUrls.get(idOf(compensationMapping.queue)) as string,
    dlqUrl: stores.queueUrls.get(
      idOf(compensationMapping.queue.redrive?.deadLetterQueue ?? compensationMapping.queue),
    ) as string,
  };
  await restoreCompensationQueue(options.sql, stores.sqs, compensationQueue);
  for (const mapping of app.eventSourceMappings) {
    const consumer = functions.find(mapping.function);
    progress(`starting ${consumer.name} behind its event source mapping (batches of ${mapping.batchSize})`);
    const pollerClient = roleClient(SQSClient, endpointsOf(config).sqs, consumer.role);
    stops.push(`the SQS client of ${consumer.name}'s event source`, async () => pollerClient.destroy());
    // As many batches at once as the mapping's MaximumConcurrency, received in rounds
    // (local/lambda/local-differences.ts): with the visibility timeout compressed to seconds, a
    // receive while a batch is still being worked on could be handed one of its messages.
    const poller = pausable(() =>
      startSqsPoller({
        // Lambda polls with the function's role: it needs sqs:ReceiveMessage and DeleteMessage.
        client: pollerClient,
        queueUrl: stores.queueUrls.get(idOf(mapping.queue)) as string,
        batchSize: mapping.batchSize,
        ...(mapping.maximumConcurrency !== undefined
          ? { maximumConcurrency: mapping.maximumConcurrency }
          : {}),
        reportBatchItemFailures: mapping.reportBatchItemFailures,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: config.compensationRetrySeconds,
        functionName: consumer.name,
        handler: (event) => functions.invoke(consumer, event),
        onError: (error) => log(`[lambda ${consumer.name}] batch failed: ${describeError(error)}`),
      }),
    );
    mappings.push({ mapping, runner: poller });
    stops.push(`${consumer.name}'s event source`, () => poller.stop());
  }
  return { compensationQueue, mappings };
}

/**
 * The sweeper (once at start, then on its interval) and the outbox relay to `events.jsonl`, each
 * returned with the function its schedule targets, not started: the operators' switches start them.
 */
async function startSchedules(
  { config, progress, stops, usage }: StartContext,
  options: { readonly app: LocalApplication; readonly functions: LocalFunctions; readonly appSql: Sql },
): Promise<{ readonly function: TemplateFunction; readonly runner: Pausable }[]> {
  const { app, functions } = options;
  const sweeper = app.functions.find((fn) => fn.entry === SWEEPER_ENTRY);
  if (!sweeper) throw new LocalStackConfigError(`the CDK app has no function for ${SWEEPER_ENTRY}`);
  progress(`starting the crash-recovery sweeper (${sweeper.name})`);
  // Sagas in flight when the stack last stopped died with it: pick them up straight away.
  await recoverAtStart(functions, sweeper);
  const sweeps = pausable(() =>
    repeatEvery(config.sweeperIntervalMs, async () => {
      await functions.invoke(sweeper, scheduledEvent(sweeper));
    }),
  );
  stops.push('the sweeper', () => sweeps.stop());

  progress(`starting the outbox relay (events go to ${path.join(config.dataDir, 'events.jsonl')})`);
  const relay = pausable(() =>
    startLocalOutboxRelay({
      sql: options.appSql,
      publisher: new LocalEventSink({ file: path.join(config.dataDir, 'events.jsonl'), usage }),
      intervalMs: 1000,
    }),
  );
  stops.push('the outbox relay', () => relay.stop());
  const outboxRelay = app.functions.find((fn) => fn.entry === OUTBOX_RELAY_ENTRY);
  if (!outboxRelay) throw new LocalStackConfigError(`the CDK app has no function for ${OUTBOX_RELAY_ENTRY}`);
  return [
    { function: sweeper, runner: sweeps },
    { function: outboxRelay, runner: relay },
  ];
}

/** The template's API methods behind the local API Gateway. */
async function startApi(
  { config, progress, stops, usage }: StartContext,
  app: LocalApplication,
  functions: LocalFunctions,
): Promise<{ readonly url: string }> {
  progress(`starting the API on 127.0.0.1:${config.apiPort} (${app.apiMethods.length} methods)`);
  const api = await startLocalApiServer({
    port: config.apiPort,
    usage,
    routes: app.apiMethods.map((method) => {
      const fn = functions.find(method.function);
      return {
        method: method.httpMethod,
        path: method.path,
        auth: ROUTE_AUTH[method.authorizationType],
        operationId: fn.name.replace(/^checkout-/, ''),
        invoke: (event) => functions.invoke(fn, event) as Promise<APIGatewayProxyResult>,
      };
    }),
  });
  stops.push('the API (requests in flight finish first)', () => api.close());
  return { url: api.url };
}

const queueArn = (url: string) =>
  `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${url.slice(url.lastIndexOf('/') + 1)}`;

/** Where `npm run ops`, `npm run redrive` and the bench find the running stack. */
async function writeStackState(dataDir: string, state: LocalStackState): Promise<void> {
  await writeFile(path.join(dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** The host name functions see for the database before local/lambda/local-differences.ts replaces it. */
const LOCAL_DATABASE_HOST = 'rds-proxy.local';

/** `application_name` of the local outbox relay's connections (the stack's application-role pool). */
export const LOCAL_OUTBOX_RELAY_APPLICATION_NAME = 'local-outbox-relay';

const ROUTE_AUTH: Record<AuthorizationType, RouteAuth> = {
  COGNITO_USER_POOLS: 'customer',
  AWS_IAM: 'admin',
  NONE: 'none',
  CUSTOM: 'customer',
};

/** An SDK client signed with the access key that names `role` to the IAM checks. */
function roleClient<T>(Client: new (config: object) => T, endpoint: string, role: ResourceId): T {
  return new Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: accessKeyOf(role), secretAccessKey: 'local' },
  });
}

/**
 * Creates every queue of the template (dead-letter queues first, so redrive policies can name
 * them) with its retention and redrive policy; the visibility timeout of the queue an event source
 * mapping drains is the compressed retry delay. Returns the queue URLs by resource id.
 */
async function createTemplateQueues(
  sqs: SQSClient,
  assembly: CloudAssembly,
  retrySeconds: number,
): Promise<Map<string, string>> {
  // ARNs need no local values: they are derived from the names.
  const resolver = new IntrinsicResolver(assembly);
  const drained = new Set(
    assembly
      .resourcesOfType('AWS::Lambda::EventSourceMapping')
      .map(({ stack, resource }) =>
        resolver.resolveString(resource.Properties?.EventSourceArn, stack, 'event source mapping'),
      ),
  );
  const urls = new Map<string, string>();
  const queues = readQueues(assembly);
  const ordered = queues.sort((a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined));
  for (const queue of ordered) {
    const arn = resolver.resolveString({ 'Fn::GetAtt': [queue.logicalId, 'Arn'] }, queue.stack, queue.name);
    const isDrained = drained.has(arn);
    const attributes: Record<string, string> = {
      MessageRetentionPeriod: String(queue.retentionSeconds),
      VisibilityTimeout: String(localVisibilityTimeoutSeconds(queue, isDrained, retrySeconds)),
    };
    if (queue.redrive) {
      const dlq = assembly.nameOf(queue.redrive.deadLetterQueue);
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${dlq}`,
        maxReceiveCount: queue.redrive.maxReceiveCount,
      });
    }
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: queue.name, Attributes: attributes }),
    );
    urls.set(idOf(queue), QueueUrl as string);
  }
  return urls;
}

async function createTemplateTable(endpoint: string, table: TemplateTable): Promise<void> {
  const client = createLocalDynamoDbClient(endpoint);
  try {
    await createTable(client, table.name, table.keySchema, table.attributeDefinitions);
  } finally {
    client.destroy();
  }
}

/** EventBridge Scheduler's event for a scheduled function. */
function scheduledEvent(fn: TemplateFunction): object {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: LOCAL_ACCOUNT_ID,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [fn.arn],
    detail: {},
  };
}

/**
 * The recovery sweep at start: the sweeper function with "stuck after" 0, in a container of its
 * own, until it finds nothing more to claim.
 */
async function recoverAtStart(functions: LocalFunctions, sweeper: TemplateFunction): Promise<void> {
  for (let round = 0; round < 100; round += 1) {
    const report = (await functions.invokeOnce(sweeper, scheduledEvent(sweeper), sweeperEnvironment(0))) as {
      claimed?: number;
    };
    if (!report?.claimed) return;
  }
}

async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) {
      throw new LocalStackConfigError(
        `port ${port} on 127.0.0.1 is already in use; stop what uses it or choose another with ${name}=<port>`,
      );
    }
  }
}

async function assertDatabaseReachable(sql: Sql): Promise<void> {
  try {
    await sql`select 1`;
  } catch (error) {
    throw new LocalStackConfigError(
      `cannot reach the database: ${error instanceof Error ? error.message : String(error)} (check DATABASE_URL)`,
    );
  }
}

/**
 * The local SQS keeps messages in memory; the audit table does not. After a restart, unresolved
 * compensations are queued again (the worker is idempotent on compensationId) and those that had
 * exhausted their retries go back to the DLQ, where `npm run redrive` finds them.
 */
async function restoreCompensationQueue(
  sql: Sql,
  sqs: SQSClient,
  queue: { queueUrl: string; dlqUrl: string },
): Promise<void> {
  const open = await new CompensationStore(sql).list({ limit: 1000 });
  for (const compensation of open) {
    if (compensation.status === 'RESOLVED') continue;
    const body = JSON.stringify(compensationMessageOf(compensation));
    const queueUrl = compensation.status === 'FAILED' ? queue.dlqUrl : queue.queueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }
}
