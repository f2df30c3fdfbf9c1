/**
 * How configuration is declared and read: a variable (name, type, default, validation, one line of
 * documentation, who sets it) and a group of variables one concern reads. `src/config/variables.ts`
 * holds the declarations; CDK sets function environments from the same objects
 * (`lib/constructs/function-environment.ts`), so a name is spelled once.
 */

/** Configuration is read once, at cold start, and fails fast with the names of what is wrong. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/**
 * Who sets a variable in AWS:
 * - `stack`: the CDK app, on every function whose handler reads the variable's group;
 * - `stack-optional`: the CDK app may (a stage setting or a tuning); unset, the default applies;
 * - `lambda`: the Lambda runtime itself (`AWS_REGION`, ...): the stack must not;
 * - `outside-aws`: nobody in AWS; whoever runs the handlers elsewhere (the tests) may.
 */
export type SetBy = 'stack' | 'stack-optional' | 'lambda' | 'outside-aws';

export interface Variable<T> {
  readonly name: string;
  readonly doc: string;
  readonly setBy: SetBy;
  /** The value from the raw string (`undefined` when unset), or an explanation of what is wrong. */
  readonly parse: (raw: string | undefined) => { value: T } | { problem: string };
}

type Parsed<V> = V extends Variable<infer T> ? T : never;

/** A set of variables one concern reads (the database, the payment provider, ...). */
export interface ConfigGroup<
  Key extends string = string,
  Vars extends Record<string, Variable<unknown>> = Record<string, Variable<unknown>>,
> {
  readonly key: Key;
  readonly doc: string;
  readonly variables: Vars;
}

/** The values a group's variables hold, by property name. */
export type GroupValues<G extends ConfigGroup> = {
  readonly [K in keyof G['variables']]: Parsed<G['variables'][K]>;
};

/** The configuration of a set of groups, by group key. */
export type ConfigOf<Groups extends readonly ConfigGroup[]> = {
  readonly [G in Groups[number] as G['key']]: GroupValues<G>;
};

type KeysSetBy<G extends ConfigGroup, S extends SetBy> = {
  [K in keyof G['variables']]: G['variables'][K] extends Variable<unknown>
    ? G['variables'][K]['setBy'] extends S
      ? K
      : never
    : never;
}[keyof G['variables']];

/**
 * What the CDK app gives a function for one group: every `stack` variable (a missing one is a
 * compile error) and any `stack-optional` one, by property name, never by variable name.
 */
export type StackValues<G extends ConfigGroup> = {
  readonly [K in KeysSetBy<G, 'stack'>]: string | number;
} & {
  readonly [K in KeysSetBy<G, 'stack-optional'>]?: string | number;
};

/** Declares a group; `setBy` literals are kept, so {@link StackValues} knows which are required. */
export function group<const Key extends string, const Vars extends Record<string, Variable<unknown>>>(
  key: Key,
  doc: string,
  variables: Vars,
): ConfigGroup<Key, Vars> {
  return { key, doc, variables };
}

const unset = (raw: string | undefined): raw is undefined => raw === undefined || raw.trim() === '';

interface Declaration<S extends SetBy> {
  readonly name: string;
  readonly doc: string;
  readonly setBy: S;
}

/** A string that must be set. */
export function requiredText<S extends SetBy>(declaration: Declaration<S>): Variable<string> & { setBy: S } {
  return {
    ...declaration,
    parse: (raw) => (unset(raw) ? { problem: 'is required but not set' } : { value: raw }),
  };
}

/** A string, `defaultValue` when unset. */
export function text<S extends SetBy>(
  declaration: Declaration<S> & { readonly defaultValue: string },
): Variable<string> & { setBy: S } {
  const { defaultValue, ...rest } = declaration;
  return { ...rest, parse: (raw) => ({ value: unset(raw) ? defaultValue : raw }) };
}

/** A string that may be unset. */
export function optionalText<S extends SetBy>(
  declaration: Declaration<S>,
): Variable<string | undefined> & { setBy: S } {
  return { ...declaration, parse: (raw) => ({ value: unset(raw) ? undefined : raw }) };
}

function parseInteger(raw: string): { value: number } | { problem: string } {
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0
    ? { value }
    : { problem: `must be a non-negative integer, got "${raw}"` };
}

/** A non-negative integer, `defaultValue` when unset. */
export function integer<S extends SetBy>(
  declaration: Declaration<S> & { readonly defaultValue: number },
): Variable<number> & { setBy: S } {
  const { defaultValue, ...rest } = declaration;
  return { ...rest, parse: (raw) => (unset(raw) ? { value: defaultValue } : parseInteger(raw)) };
}

/** A non-negative integer that may be unset (a feature that is off without it). */
export function optionalInteger<S extends SetBy>(
  declaration: Declaration<S>,
): Variable<number | undefined> & { setBy: S } {
  return { ...declaration, parse: (raw) => (unset(raw) ? { value: undefined } : parseInteger(raw)) };
}

/** `true` or `false`, `defaultValue` when unset. */
export function flag<S extends SetBy>(
  declaration: Declaration<S> & { readonly defaultValue: boolean },
): Variable<boolean> & { setBy: S } {
  const { defaultValue, ...rest } = declaration;
  return {
    ...rest,
    parse: (raw) => {
      if (unset(raw)) return { value: defaultValue };
      if (raw === 'true' || raw === 'false') return { value: raw === 'true' };
      return { problem: `must be "true" or "false", got "${raw}"` };
    },
  };
}

/**
 * Reads one group; throws one {@link ConfigurationError} naming every variable that is wrong.
 * Values in `given` (by property name) are taken as they are, instead of the environment's.
 */
export function readGroup<G extends ConfigGroup>(
  declared: G,
  environment: NodeJS.ProcessEnv,
  given: Partial<GroupValues<G>> = {},
): GroupValues<G> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [property, variable] of Object.entries(declared.variables)) {
    if (property in given) {
      values[property] = (given as Record<string, unknown>)[property];
      continue;
    }
    const parsed = variable.parse(environment[variable.name]);
    if ('problem' in parsed) problems.push(`environment variable ${variable.name} ${parsed.problem}`);
    else values[property] = parsed.value;
  }
  if (problems.length > 0)
    throw new ConfigurationError(`${declared.key} configuration: ${problems.join('; ')}`);
  return values as GroupValues<G>;
}

/** Reads every group of a function's declaration; one error names every variable that is wrong. */
export function readConfig<const Groups extends readonly ConfigGroup[]>(
  groups: Groups,
  environment: NodeJS.ProcessEnv = process.env,
): ConfigOf<Groups> {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const declared of groups) {
    try {
      config[declared.key] = readGroup(declared, environment);
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('; '));
  return config as ConfigOf<Groups>;
}

/** A value a group declares optional at read time but a builder needs: fails naming the variable. */
export function required<T>(variable: Variable<unknown>, value: T | undefined): T {
  if (value === undefined) {
    throw new ConfigurationError(`environment variable ${variable.name} is required but not set`);
  }
  return value;
}
