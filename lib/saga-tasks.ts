import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SagaDefinitionView } from '../src/config/budget.js';

/**
 * The saga's Lambda tasks, read from the ASL file. CDK builds one function per task from this list,
 * so the definition is the one place that names the saga's steps. Pure: no aws-cdk-lib import, so
 * tools and tests load it cheaply.
 */

/** The saga definition, relative to the repository root. */
export const PAYMENT_SAGA_DEFINITION = 'statemachines/payment-saga.asl.json';

/** The substitution the QueueCompensation state's `sqs:sendMessage` integration uses. */
export const COMPENSATION_QUEUE_URL_SUBSTITUTION = 'CompensationQueueUrl';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/** The absolute path of the saga definition. */
export const PAYMENT_SAGA_DEFINITION_FILE = path.join(PROJECT_ROOT, PAYMENT_SAGA_DEFINITION);

/** A Lambda Task state of the definition: `"Resource": "${<State>FunctionArn}"`. */
export interface SagaTask {
  readonly stateName: string;
  /** The substitution variable, `<State>FunctionArn`. */
  readonly substitution: string;
  /** Handler file, relative to the repository root: `lambdas/saga/<kebab-case state name>.ts`. */
  readonly entry: string;
  readonly timeoutSeconds: number;
}

/**
 * Lists the Lambda Task states of an ASL definition, refusing a definition the app could not wire:
 * a Task without `TimeoutSeconds`, or a `${...}` placeholder that is neither a Task's function nor
 * the compensation queue.
 */
export function sagaTasks(definition: string): SagaTask[] {
  const parsed = JSON.parse(definition) as {
    States?: Record<string, { Type?: string; Resource?: unknown; TimeoutSeconds?: unknown }>;
  };
  const tasks: SagaTask[] = [];
  for (const [stateName, state] of Object.entries(parsed.States ?? {})) {
    if (state.Type !== 'Task' || typeof state.Resource !== 'string') continue;
    const match = /^\$\{(\w+FunctionArn)\}$/.exec(state.Resource);
    if (!match) continue;
    const substitution = match[1] as string;
    if (substitution !== `${stateName}FunctionArn`) {
      throw new Error(`state ${stateName} must use \${${stateName}FunctionArn}, not \${${substitution}}`);
    }
    if (typeof state.TimeoutSeconds !== 'number') {
      throw new Error(`Task state ${stateName} has no TimeoutSeconds; every saga step needs one`);
    }
    tasks.push({
      stateName,
      substitution,
      entry: `lambdas/saga/${kebabCase(stateName)}.ts`,
      timeoutSeconds: state.TimeoutSeconds,
    });
  }
  const known = new Set([...tasks.map((task) => task.substitution), COMPENSATION_QUEUE_URL_SUBSTITUTION]);
  for (const [, name] of definition.matchAll(/\$\{(\w+)\}/g)) {
    if (!known.has(name as string))
      throw new Error(`the saga definition uses an unknown substitution \${${name}}`);
  }
  return tasks;
}

/** The Lambda tasks of the repository's payment saga definition. */
export function paymentSagaTasks(): SagaTask[] {
  return sagaTasks(readFileSync(PAYMENT_SAGA_DEFINITION_FILE, 'utf8'));
}

/**
 * The definition as the budget's rules read it (docs/adr/0020): each Lambda Task's
 * `TimeoutSeconds` and every `Retry` rule of every state, with its state's name.
 */
export function sagaDefinitionView(definition: string): SagaDefinitionView {
  const parsed = JSON.parse(definition) as {
    States?: Record<string, { Retry?: SagaDefinitionView['retries'][number][] }>;
  };
  const retries = Object.entries(parsed.States ?? {}).flatMap(([stateName, state]) =>
    (state.Retry ?? []).map((retry) => ({ ...retry, stateName })),
  );
  return { tasks: sagaTasks(definition), retries };
}

/** The repository's payment saga as the budget's rules read it. */
export function paymentSagaDefinitionView(): SagaDefinitionView {
  return sagaDefinitionView(readFileSync(PAYMENT_SAGA_DEFINITION_FILE, 'utf8'));
}

/** The absolute path of a task's handler file. */
export function sagaTaskEntryFile(task: SagaTask): string {
  return path.join(PROJECT_ROOT, task.entry);
}

/** `AuthorizePayment` → `authorize-payment`. */
export function kebabCase(pascalCase: string): string {
  return pascalCase.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
