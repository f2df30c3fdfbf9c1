import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ConfigGroup, StackValues } from '../../src/config/declarations.js';

/**
 * Sets one configuration group's variables on a function, by the names `src/config/variables.ts`
 * declares: every variable the stack must set is a required property (a missing one does not
 * compile), and no variable name is spelled in `lib/`.
 */
export function setEnvironment<G extends ConfigGroup>(
  fn: LambdaFunction,
  declared: G,
  values: StackValues<G>,
): void {
  for (const [property, value] of Object.entries(values as Record<string, string | number | undefined>)) {
    const variable = declared.variables[property];
    if (!variable) throw new Error(`configuration group ${declared.key} declares no ${property}`);
    if (value !== undefined) fn.addEnvironment(variable.name, String(value));
  }
}

/** The variables of a group as a plain environment (for a function's `environment` prop). */
export function environmentOf<G extends ConfigGroup>(
  declared: G,
  values: StackValues<G>,
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [property, value] of Object.entries(values as Record<string, string | number | undefined>)) {
    const variable = declared.variables[property];
    if (!variable) throw new Error(`configuration group ${declared.key} declares no ${property}`);
    if (value !== undefined) environment[variable.name] = String(value);
  }
  return environment;
}
