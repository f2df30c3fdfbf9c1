import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, test } from 'vitest';
import { CheckoutFunction } from '../../lib/constructs/checkout-function.js';
import { declarationOf, FUNCTION_DECLARATIONS } from '../../src/config/functions.js';
import { synthesizeCheckout } from './support/checkout-app.js';
import { templateJson } from './support/template-queries.js';

/**
 * Each function of the synthesized templates gets exactly the variables its handler declares
 * (`src/config/functions.ts`): every variable of its groups the stack must set, any the stack may
 * set, and nothing else — no variable the Lambda runtime sets, none meant for local mode, none
 * of a group the handler does not read.
 */
function checkoutFunctions(scope: IConstruct): CheckoutFunction[] {
  return scope.node.findAll().filter((node): node is CheckoutFunction => node instanceof CheckoutFunction);
}

function environmentOf(fn: CheckoutFunction): string[] {
  const stack = Stack.of(fn);
  const logicalId = stack.getLogicalId(fn.function.node.defaultChild as CfnElement);
  const resource = templateJson(synthesized(stack)).Resources[logicalId];
  const variables = (resource?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
    ?.Variables;
  return Object.keys(variables ?? {}).sort();
}

const templates = new Map<Stack, ReturnType<typeof synthesizeCheckout>['statelessTemplate']>();
function synthesized(stack: Stack) {
  const template = templates.get(stack);
  if (!template) throw new Error(`no template for ${stack.stackName}`);
  return template;
}

describe.each(['dev', 'prod'] as const)('function environments (%s)', (stage) => {
  const app = synthesizeCheckout({ stage, bundle: false });
  templates.set(app.stateful, app.statefulTemplate);
  templates.set(app.stateless, app.statelessTemplate);
  const functions = [...checkoutFunctions(app.stateful), ...checkoutFunctions(app.stateless)];

  test.each(
    functions.map((fn) => [fn.node.path, fn] as const),
  )('%s gets exactly what its handler declares', (_path, fn) => {
    const groups = declarationOf(fn.entry, fn.handlerExport);
    expect(
      groups,
      `${fn.entry}#${fn.handlerExport} has no declaration in src/config/functions.ts`,
    ).toBeDefined();
    const variables = (groups ?? []).flatMap((group) => Object.values(group.variables));
    const required = variables
      .filter((variable) => variable.setBy === 'stack')
      .map((variable) => variable.name);
    const allowed = new Set([
      ...required,
      ...variables.filter((variable) => variable.setBy === 'stack-optional').map((variable) => variable.name),
    ]);

    const actual = environmentOf(fn);

    expect(actual, 'missing').toEqual(expect.arrayContaining([...new Set(required)]));
    expect(
      actual.filter((name) => !allowed.has(name)),
      'stray',
    ).toEqual([]);
  });

  test('every declared handler is deployed', () => {
    const deployed = new Set(functions.map((fn) => `${fn.entry}#${fn.handlerExport}`));
    const declared = FUNCTION_DECLARATIONS.map(
      (declaration) => `${declaration.entry}#${declaration.handler}`,
    );
    // The simulated provider is deployed in non-production stages only.
    const expected = declared.filter(
      (name) => stage === 'dev' || !name.startsWith('local/payment-provider/function.ts'),
    );
    expect(expected.filter((name) => !deployed.has(name))).toEqual([]);
  });
});
