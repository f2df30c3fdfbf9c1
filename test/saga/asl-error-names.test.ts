import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { PAYMENT_SAGA_DEFINITION_FILE } from '../../lib/saga-tasks.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The error names Step Functions itself reports (AWS's list, not the code's). */
const STATES_ERRORS = new Set([
  'States.ALL',
  'States.BranchFailed',
  'States.DataLimitExceeded',
  'States.ExceedToleratedFailureThreshold',
  'States.HeartbeatTimeout',
  'States.IntrinsicFailure',
  'States.ItemReaderFailed',
  'States.NoChoiceMatched',
  'States.ParameterPathFailure',
  'States.Permissions',
  'States.QueryEvaluationError',
  'States.ResultPathMatchFailure',
  'States.ResultWriterFailed',
  'States.Runtime',
  'States.TaskFailed',
  'States.Timeout',
]);

/**
 * The error types the Lambda runtime itself reports for an invocation whose process died: an
 * unhandled rejection, or an exit (docs/PERFORMANCE.md, "Chaos mix with database faults").
 */
const LAMBDA_RUNTIME_ERRORS = new Set(['Runtime.UnhandledPromiseRejection', 'Runtime.ExitError']);
/** What the runtime reports for a function that ran past its own timeout (docs/adr/0020). */
const LAMBDA_TIMEOUT_ERRORS = new Set(['Sandbox.Timedout']);

/** The errors of the Lambda service's Invoke that a Task's Retry may name. */
const LAMBDA_ERRORS = new Set([
  'Lambda.AWSLambdaException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.SdkClientException',
  'Lambda.ServiceException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
]);

/** Every `ErrorEquals` name of the definition, with the state whose Retry or Catch names it. */
function errorEqualsNames(definition: unknown): { name: string; state: string }[] {
  const found: { name: string; state: string }[] = [];
  const visit = (node: unknown, state: string) => {
    if (Array.isArray(node)) for (const item of node) visit(item, state);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'ErrorEquals') for (const name of value as string[]) found.push({ name, state });
        else visit(value, state);
      }
    }
  };
  const states = (definition as { States: Record<string, unknown> }).States;
  for (const [state, body] of Object.entries(states)) visit(body, state);
  return found;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(ROOT, folder, file));
}

/**
 * The error classes the deployed code can throw, read from the code itself: a class in `src/` or
 * `lambdas/` that sets `override readonly name = '<Name>'` and is constructed (`new <Name>(`)
 * somewhere in that code. An error a Lambda throws reaches the saga under its `name`.
 */
function thrownErrorNames(): Set<string> {
  const files = [...sourceFiles('src'), ...sourceFiles('lambdas')].map((file) => readFileSync(file, 'utf8'));
  const code = files.join('\n');
  const declared = new Map<string, string>();
  for (const text of files) {
    for (const [, className, body] of text.matchAll(/class (\w+) extends \w*Error \{([\s\S]*?)\n\}/g)) {
      const name = /override readonly name = '(\w+)'/.exec(body as string)?.[1];
      if (name) declared.set(className as string, name);
    }
  }
  return new Set(
    [...declared].filter(([className]) => code.includes(`new ${className}(`)).map(([, name]) => name),
  );
}

describe('the error names of the payment saga definition', () => {
  test('every ErrorEquals name is a Step Functions or Lambda error, or the name of an error the code throws', () => {
    const definition = JSON.parse(readFileSync(PAYMENT_SAGA_DEFINITION_FILE, 'utf8'));
    const thrown = thrownErrorNames();

    const unknown = errorEqualsNames(definition).filter(
      ({ name }) =>
        !STATES_ERRORS.has(name) &&
        !LAMBDA_ERRORS.has(name) &&
        !LAMBDA_RUNTIME_ERRORS.has(name) &&
        !LAMBDA_TIMEOUT_ERRORS.has(name) &&
        !thrown.has(name),
    );

    expect(unknown, 'ErrorEquals names that nothing can throw (a typo, or a removed error class)').toEqual(
      [],
    );
  });

  test('the scan of the code finds the named errors of the domain, the data layer and the payment gateway', () => {
    const thrown = thrownErrorNames();

    // Guards the scan itself: were it to find nothing, the test above would reject every name,
    // and were it to find everything, it would accept typos.
    expect(thrown).toContain('DatabaseUnavailableError');
    expect(thrown).toContain('PaymentDeclinedError');
    expect(thrown).toContain('IllegalTransitionError');
    expect(thrown).not.toContain('AslDefinitionError');
  });

  test("every Task's retry of infrastructure errors also retries an invocation whose process died", () => {
    // A process that dies (Runtime.UnhandledPromiseRejection, Runtime.ExitError), as postgres.js's
    // per-connection catalog query made it when the database cut the connection (porsager/postgres#1192,
    // now turned off in src/db/client.ts), is infrastructure, not the order's fault.
    const definition = JSON.parse(readFileSync(PAYMENT_SAGA_DEFINITION_FILE, 'utf8')) as {
      States: Record<string, { Type: string; Retry?: { ErrorEquals: string[] }[] }>;
    };
    const infrastructureRetries = Object.entries(definition.States).flatMap(([state, body]) =>
      (body.Retry ?? [])
        .filter((retry) => retry.ErrorEquals.includes('DatabaseUnavailableError'))
        .map((retry) => ({ state, names: retry.ErrorEquals })),
    );

    expect(infrastructureRetries.length).toBeGreaterThanOrEqual(8);
    for (const { state, names } of infrastructureRetries) {
      expect({ state, names }).toEqual({
        state,
        names: expect.arrayContaining([...LAMBDA_RUNTIME_ERRORS]),
      });
    }
  });
});
