import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { assertBudgetHolds } from '../../lib/checkout-app.js';
import { stageConfig } from '../../lib/config.js';
import { paymentSagaDefinitionView, sagaDefinitionView } from '../../lib/saga-tasks.js';
import {
  API_GATEWAY_TIMEOUT_SECONDS,
  budgetedFunctions,
  budgetViolations,
  checkoutBudget,
  DATABASE_CALL_SECONDS,
  INFRASTRUCTURE_ERROR,
  INVOCATION_OVERHEAD_SECONDS,
  LAMBDA_UNRESERVED_MINIMUM,
  probabilityWaitsEndBefore,
  workSeconds,
} from '../../src/config/budget.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
import {
  cdkPath,
  referencedLogicalId,
  resourcesOfType,
  type TemplateResource,
  templateJson,
} from './support/template-queries.js';

/**
 * The nesting rules of the time-and-capacity budget (docs/adr/0020), read from what would be
 * deployed: both stages' synthesized templates and the definition file the state machine uploads.
 */

interface Stage {
  readonly name: 'dev' | 'prod';
  checkout: SynthesizedCheckout;
}
const stages: Stage[] = [
  { name: 'dev', checkout: undefined as unknown as SynthesizedCheckout },
  { name: 'prod', checkout: undefined as unknown as SynthesizedCheckout },
];

beforeAll(() => {
  for (const stage of stages) stage.checkout = synthesizeCheckout({ stage: stage.name, bundle: false });
});

type Environment = Record<string, string>;
const environmentOf = (fn: TemplateResource): Environment =>
  ((fn.Properties.Environment as { Variables?: Environment } | undefined)?.Variables ?? {}) as Environment;

/** Every function of both stacks, with its construct path. */
function functions(checkout: SynthesizedCheckout): (TemplateResource & { path: string })[] {
  return [checkout.statefulTemplate, checkout.statelessTemplate].flatMap((template) =>
    resourcesOfType(template, 'AWS::Lambda::Function')
      // CDK's own singleton functions (log retention, custom resource providers) are not the app's.
      .filter((fn) => fn.Metadata?.['checkout:entry'] !== undefined)
      .map((fn) => ({ ...fn, path: cdkPath(fn) })),
  );
}

const databaseFunctions = (checkout: SynthesizedCheckout) =>
  functions(checkout).filter((fn) => environmentOf(fn).DB_PROXY_ENDPOINT !== undefined);

/** The definition file the state machine uploads, read from the cloud assembly. */
function deployedDefinition(checkout: SynthesizedCheckout): string {
  const [machine] = resourcesOfType(checkout.statelessTemplate, 'AWS::StepFunctions::StateMachine');
  const { Key } = machine?.Properties.DefinitionS3Location as { Key: string };
  const manifest = JSON.parse(
    readFileSync(
      path.join(checkout.assembly.directory, `${checkout.stateless.artifactId}.assets.json`),
      'utf8',
    ),
  ) as {
    files: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  const asset = Object.values(manifest.files).find((file) =>
    Object.values(file.destinations).some((destination) => destination.objectKey === Key),
  );
  if (!asset) throw new Error(`no asset uploads ${Key}`);
  return readFileSync(path.join(checkout.assembly.directory, asset.source.path), 'utf8');
}

/** Each Lambda Task state with its state `TimeoutSeconds` and the function its substitution invokes. */
function sagaTasks(checkout: SynthesizedCheckout) {
  const template = checkout.statelessTemplate;
  const [machine] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  const substitutions = machine?.Properties.DefinitionSubstitutions as Record<string, unknown>;
  const resources = templateJson(template).Resources;
  return sagaDefinitionView(deployedDefinition(checkout)).tasks.map((task) => {
    const alias = resources[referencedLogicalId(substitutions[`${task.stateName}FunctionArn`]) ?? ''];
    const functionId = referencedLogicalId(alias?.Properties?.FunctionName) ?? '';
    const fn = { logicalId: functionId, ...resources[functionId] } as TemplateResource;
    return { ...task, fn };
  });
}

describe.each(stages)('the time-and-capacity budget on the $name templates', (stage) => {
  test('every saga task invocation ends before its state gives up: Lambda timeout + overhead ≤ TimeoutSeconds', () => {
    const tasks = sagaTasks(stage.checkout);

    expect(tasks.length).toBeGreaterThanOrEqual(8);
    for (const task of tasks) {
      const timeout = task.fn.Properties.Timeout as number;
      expect({
        state: task.stateName,
        fits: timeout + INVOCATION_OVERHEAD_SECONDS <= task.timeoutSeconds,
      }).toEqual({
        state: task.stateName,
        fits: true,
      });
    }
  });

  test("the provider's timeout plus the database work after it fits inside each provider-calling function", () => {
    // The functions that may call the provider: its URL and its credential (readiness has only the URL).
    const callers = functions(stage.checkout).filter(
      (fn) => environmentOf(fn).PAYMENT_PROVIDER_URL && environmentOf(fn).PAYMENT_PROVIDER_SECRET_ARN,
    );
    // The ones whose work makes provider calls (the others share the saga's gateway but never call).
    const calling = budgetedFunctions(stage.checkout.config.budget, paymentSagaDefinitionView())
      .filter(({ fn }) => (fn.work.providerCalls ?? 0) > 0)
      .map(({ name }) => callers.find((fn) => fn.path.includes(`/${name}/`)));

    expect(calling.length).toBe(5);
    for (const fn of calling) {
      if (!fn) throw new Error('a provider-calling function of the budget is not in the template');
      const env = environmentOf(fn);
      const providerMs = Number(env.PAYMENT_TIMEOUT_MS);
      const reserveMs = Number(env.PAYMENT_DEADLINE_RESERVE_MS);
      // What the gateway keeps for the records after a provider call: at least one database call.
      expect(reserveMs, fn.path).toBeGreaterThanOrEqual(DATABASE_CALL_SECONDS * 1000);
      expect(providerMs + reserveMs, fn.path).toBeLessThanOrEqual((fn.Properties.Timeout as number) * 1000);
    }
  });

  test("every API function's timeout, with the invocation overhead, is under API Gateway's 29 s", () => {
    const api = functions(stage.checkout).filter((fn) => fn.path.includes('/ApiHandlers/'));

    expect(api.length).toBe(11);
    for (const fn of api) {
      expect((fn.Properties.Timeout as number) + INVOCATION_OVERHEAD_SECONDS, fn.path).toBeLessThan(
        API_GATEWAY_TIMEOUT_SECONDS,
      );
    }
  });

  test('the proxy borrow timeout and the connect timeout are shorter than every function that waits for them', () => {
    const [targetGroup] = resourcesOfType(stage.checkout.statefulTemplate, 'AWS::RDS::DBProxyTargetGroup');
    const borrow = (
      targetGroup?.Properties.ConnectionPoolConfigurationInfo as { ConnectionBorrowTimeout: number }
    ).ConnectionBorrowTimeout;
    const waiting = databaseFunctions(stage.checkout);

    expect(waiting.length).toBeGreaterThanOrEqual(20);
    for (const fn of waiting) {
      const timeout = fn.Properties.Timeout as number;
      expect(borrow, fn.path).toBeLessThan(timeout);
      expect(Number(environmentOf(fn).DB_CONNECT_TIMEOUT_SECONDS), fn.path).toBeLessThan(timeout);
    }
  });

  test("the compensation worker's timeout covers its batch's worst case; visibility ≥ 6 × timeout; the DLQ outlives the queue", () => {
    const { checkout } = stage;
    const budget = checkout.config.budget;
    const [mapping] = resourcesOfType(checkout.statelessTemplate, 'AWS::Lambda::EventSourceMapping');
    const worker = functions(checkout).find((fn) =>
      fn.path.includes('/CompensationWorker/'),
    ) as TemplateResource;
    const env = environmentOf(worker);
    const queues = resourcesOfType(checkout.statefulTemplate, 'AWS::SQS::Queue').filter((queue) =>
      cdkPath(queue).includes('/CompensationQueue/'),
    );
    const source = queues.find((queue) => queue.Properties.RedrivePolicy) as TemplateResource;
    const dlq = queues.find((queue) => !queue.Properties.RedrivePolicy) as TemplateResource;
    // Each call of a record at its own timeout: the provider's from the function's environment.
    const recordWorstCase = workSeconds(
      budget.compensationWorker.work,
      Number(env.PAYMENT_TIMEOUT_MS) / 1000,
    );
    const timeout = worker.Properties.Timeout as number;

    expect((mapping?.Properties.BatchSize as number) * recordWorstCase).toBeLessThanOrEqual(timeout);
    expect(source.Properties.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * timeout);
    expect(dlq.Properties.MessageRetentionPeriod as number).toBeGreaterThan(
      source.Properties.MessageRetentionPeriod as number,
    );
  });

  test('every Retry of the saga uses full jitter, and the infrastructure retries outlast a failover', () => {
    const { retries } = sagaDefinitionView(deployedDefinition(stage.checkout));
    const infrastructure = retries.filter((retry) => retry.ErrorEquals.includes(INFRASTRUCTURE_ERROR));

    for (const retry of retries.filter((rule) => rule.MaxAttempts !== 0)) {
      expect({
        state: retry.stateName,
        errors: retry.ErrorEquals,
        jitter: retry.JitterStrategy,
      }).toMatchObject({
        jitter: 'FULL',
      });
    }
    expect(infrastructure.length).toBeGreaterThanOrEqual(8);
    for (const retry of infrastructure) {
      const ceilings = Array.from({ length: retry.MaxAttempts ?? 3 }, (_, n) =>
        Math.min(
          retry.MaxDelaySeconds ?? Number.POSITIVE_INFINITY,
          (retry.IntervalSeconds ?? 1) * (retry.BackoffRate ?? 2) ** n,
        ),
      );
      // The jittered waits add up to less than a 120 s Multi-AZ failover at most once in a thousand.
      expect(probabilityWaitsEndBefore(ceilings, 120), retry.stateName).toBeLessThan(0.001);
    }
  });

  test('Σ(concurrency × pool size) fits the proxy: max_connections × MaxConnectionsPercent', () => {
    const { checkout } = stage;
    const [parameters] = resourcesOfType(checkout.statefulTemplate, 'AWS::RDS::DBParameterGroup');
    const [targetGroup] = resourcesOfType(checkout.statefulTemplate, 'AWS::RDS::DBProxyTargetGroup');
    const maxConnections = Number(
      (parameters?.Properties.Parameters as Record<string, string>).max_connections,
    );
    const percent = (
      targetGroup?.Properties.ConnectionPoolConfigurationInfo as { MaxConnectionsPercent: number }
    ).MaxConnectionsPercent;
    const proxyConnections = Math.floor((maxConnections * percent) / 100);
    const all = databaseFunctions(checkout);
    const pool = (fn: TemplateResource) => Number(environmentOf(fn).DB_POOL_MAX);
    const reserved = functions(checkout).reduce(
      (sum, fn) => sum + ((fn.Properties.ReservedConcurrentExecutions as number | undefined) ?? 0),
      0,
    );
    // Unreserved functions share what reservations leave of the account quota the stage needs.
    const unreserved = all.filter((fn) => fn.Properties.ReservedConcurrentExecutions === undefined);
    const shared = Math.max(0, checkout.config.budget.accountConcurrency - reserved);
    const connections =
      all.reduce(
        (sum, fn) =>
          sum + ((fn.Properties.ReservedConcurrentExecutions as number | undefined) ?? 0) * pool(fn),
        0,
      ) +
      shared * Math.max(0, ...unreserved.map(pool));

    expect(all.every((fn) => pool(fn) >= 1)).toBe(true);
    expect(maxConnections).toBeGreaterThan(0);
    expect(connections).toBeLessThanOrEqual(proxyConnections);
  });
});

describe('reserved concurrency', () => {
  test('dev reserves none, so it deploys into a fresh account (10 concurrent executions, none reservable)', () => {
    const dev = stages[0]?.checkout as SynthesizedCheckout;
    const reserving = [dev.statefulTemplate, dev.statelessTemplate].flatMap((template) =>
      resourcesOfType(template, 'AWS::Lambda::Function')
        .filter((fn) => fn.Properties.ReservedConcurrentExecutions !== undefined)
        .map(cdkPath),
    );

    expect(reserving).toEqual([]);
  });

  test('prod reserves for the saga tasks, the worker and every database function, within the account quota', () => {
    const prod = stages[1]?.checkout as SynthesizedCheckout;
    const reserved = (fn: TemplateResource) =>
      fn.Properties.ReservedConcurrentExecutions as number | undefined;
    const all = functions(prod);
    const tasks = sagaTasks(prod);
    const worker = all.find((fn) => fn.path.includes('/CompensationWorker/')) as TemplateResource;
    const [mapping] = resourcesOfType(prod.statelessTemplate, 'AWS::Lambda::EventSourceMapping');
    const total = all.reduce((sum, fn) => sum + (reserved(fn) ?? 0), 0);

    for (const task of tasks) expect(reserved(task.fn), task.stateName).toBeGreaterThan(0);
    expect(reserved(worker)).toBeGreaterThanOrEqual(
      (mapping?.Properties.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency,
    );
    for (const fn of databaseFunctions(prod)) expect(reserved(fn), fn.path).toBeGreaterThan(0);
    // The quota the README names for production.
    expect(total + LAMBDA_UNRESERVED_MINIMUM).toBeLessThanOrEqual(prod.config.budget.accountConcurrency);
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    expect(readme).toContain(
      `${(total + LAMBDA_UNRESERVED_MINIMUM).toLocaleString('en-US')} concurrent executions`,
    );
  });
});

describe('the rules refuse a budget whose layers disagree', () => {
  const saga = paymentSagaDefinitionView();
  const base = () => stageConfig({ stage: 'prod' }).budget;

  test('the budget of both stages holds', () => {
    expect(budgetViolations(stageConfig({ stage: 'dev' }).budget, saga)).toEqual([]);
    expect(budgetViolations(base(), saga)).toEqual([]);
  });

  test('a saga task whose work outgrows its state timeout, and a task without a line', () => {
    const budget = base();
    const wider = {
      ...budget,
      sagaTasks: {
        ...budget.sagaTasks,
        AuthorizePayment: {
          ...budget.sagaTasks.AuthorizePayment,
          work: { databaseCalls: 2, providerCalls: 2 },
        },
      },
    };
    const { ConfirmOrder: _, ...withoutConfirm } = budget.sagaTasks;

    expect(budgetViolations(wider, saga).join('\n')).toMatch(
      /AuthorizePayment: its work takes up to 47 s, longer than its 32 s timeout/,
    );
    expect(budgetViolations({ ...budget, sagaTasks: withoutConfirm }, saga)).toContain(
      'saga task ConfirmOrder has no budget line',
    );
  });

  test('a worker batch that outlasts the timeout, a borrow timeout as long as a function, a DLQ kept no longer', () => {
    const budget = base();

    expect(
      budgetViolations(
        { ...budget, compensationQueue: { ...budget.compensationQueue, batchSize: 5 } },
        saga,
      ).join('\n'),
    ).toMatch(/compensation worker: a batch of 5 takes up to \d+ s, longer than its 120 s timeout/);
    expect(
      budgetViolations(
        { ...budget, database: { ...budget.database, proxyBorrowTimeoutSeconds: 30 } },
        saga,
      ).join('\n'),
    ).toMatch(/the RDS Proxy borrow timeout \(30 s\) is not shorter than/);
    expect(
      budgetViolations(
        {
          ...budget,
          compensationQueue: { ...budget.compensationQueue, deadLetterRetentionSeconds: 4 * 24 * 3600 },
        },
        saga,
      ),
    ).toContain('compensation DLQ: keeps messages no longer than its source queue');
  });

  test('reservations beyond the account or the proxy, and a retry without jitter', () => {
    const budget = checkoutBudget({
      paymentTimeoutSeconds: 15,
      maxConnections: 100,
      accountConcurrency: 1000,
      reservedConcurrency: { placeOrder: 950 },
    });
    const noJitter = {
      ...saga,
      retries: saga.retries.map((retry) =>
        retry.ErrorEquals.includes(INFRASTRUCTURE_ERROR) ? { ...retry, JitterStrategy: 'NONE' } : retry,
      ),
    };
    const problems = budgetViolations(budget, noJitter).join('\n');

    expect(problems).toMatch(
      /reserved concurrency 950 \+ Lambda's 100 unreserved exceeds the account's 1000/,
    );
    expect(problems).toMatch(/Σ\(concurrency × pool size\) is \d+, more than the proxy's 90 connections/);
    expect(problems).toMatch(
      /AuthorizePayment: the Retry on DatabaseUnavailableError, .* has no full jitter/,
    );
  });

  test('the synth refuses a stage whose budget breaks a rule, naming it', () => {
    const config = stageConfig({ stage: 'prod' });
    const broken = {
      ...config,
      budget: { ...config.budget, compensationQueue: { ...config.budget.compensationQueue, batchSize: 5 } },
    };

    expect(() => assertBudgetHolds(config)).not.toThrow();
    expect(() => assertBudgetHolds(broken)).toThrow(
      /the prod time-and-capacity budget breaks its rules:\n- compensation worker: a batch of 5/,
    );
  });
});
