import { readFileSync } from 'node:fs';

/** One state of an Amazon States Language definition, kept loose: the interpreter validates it. */
export type AslState = { readonly Type: string } & Record<string, unknown>;

/** A (sub-)state machine: the top level, a Parallel branch or a Map item processor. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly [field: string]: unknown;
}

/** Raised when a definition cannot be loaded, substituted or run locally. */
export class AslDefinitionError extends Error {
  override readonly name = 'AslDefinitionError';
}

/** Reads a definition from an `.asl.json` file, or checks the shape of one already parsed. */
export function loadAslDefinition(source: string | URL | object): AslDefinition {
  const parsed: unknown =
    typeof source === 'string' || source instanceof URL ? JSON.parse(readFileSync(source, 'utf8')) : source;
  if (!isAslDefinition(parsed)) {
    throw new AslDefinitionError(
      `not a state machine definition (StartAt and States expected): ${String(source)}`,
    );
  }
  if (parsed.QueryLanguage === 'JSONata') {
    throw new AslDefinitionError('the local interpreter runs JSONPath definitions only, not JSONata');
  }
  return parsed;
}

/**
 * Applies `DefinitionSubstitutions` as CloudFormation does: every `${Name}` in the definition is
 * replaced by its value. Substituting inside each parsed string (keys included) rather than the raw
 * text means a value can never break the JSON. A placeholder with no value fails here, by name,
 * instead of surfacing later as a puzzling ARN or URL.
 */
export function substituteDefinition(
  definition: AslDefinition,
  substitutions: Readonly<Record<string, string>>,
): AslDefinition {
  const missing = new Set<string>();
  const replace = (text: string): string =>
    text.replace(/\$\{([^}]+)\}/g, (placeholder, name: string) => {
      const value = substitutions[name];
      if (value === undefined) missing.add(name);
      return value ?? placeholder;
    });
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [replace(key), walk(item)]));
    }
    return value;
  };
  const result = walk(definition) as AslDefinition;
  if (missing.size > 0) {
    throw new AslDefinitionError(
      `no substitution given for ${[...missing].map((name) => `\${${name}}`).join(', ')}`,
    );
  }
  return result;
}

/** A factor for every Retry interval, or one chosen by the errors (`ErrorEquals`) a retrier matches. */
export type RetryIntervalScale = number | ((errorEquals: readonly string[]) => number);

/** Calls `visit` for every state, descending into Parallel branches and Map item processors. */
export function forEachState(
  definition: AslDefinition,
  visit: (name: string, state: AslState) => void,
): void {
  for (const [name, state] of Object.entries(definition.States)) {
    visit(name, state);
    const nested: unknown[] = [state.Iterator, state.ItemProcessor, ...(asArray(state.Branches) ?? [])];
    for (const child of nested) if (isAslDefinition(child)) forEachState(child, visit);
  }
}

/**
 * A copy of the definition whose Retry intervals (and their MaxDelaySeconds caps) and Wait
 * `Seconds` are multiplied by the given factors. Scaling the definition, rather than using the
 * interpreter's per-state `retryIntervalOverrides`, keeps BackoffRate and full jitter working:
 * an override is one fixed pause per retrier, whatever the attempt. `SecondsPath`, `Timestamp`
 * and `TimestampPath` waits are computed at run time and are not scaled. `retryInterval` may
 * depend on the errors a retrier matches, so that one class of waits is compressed less.
 */
export function scaleWaits(
  definition: AslDefinition,
  scales: { readonly retryInterval: RetryIntervalScale; readonly waitTime: number },
): AslDefinition {
  const scaled = structuredClone(definition);
  forEachState(scaled, (_name, state) => {
    const mutable = state as Record<string, unknown>;
    for (const retrier of asArray(state.Retry) ?? []) {
      const fields = retrier as Record<string, unknown>;
      const scale =
        typeof scales.retryInterval === 'number'
          ? scales.retryInterval
          : scales.retryInterval((asArray(fields.ErrorEquals) ?? []) as string[]);
      // 1 s is the ASL default interval; it has to be written out to be scaled.
      fields.IntervalSeconds = numberOr(fields.IntervalSeconds, 1) * scale;
      if (typeof fields.MaxDelaySeconds === 'number') fields.MaxDelaySeconds *= scale;
    }
    if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
      mutable.Seconds = state.Seconds * scales.waitTime;
    }
  });
  return scaled;
}

function isAslDefinition(value: unknown): value is AslDefinition {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.StartAt === 'string' && candidate.States !== null && typeof candidate.States === 'object'
  );
}

function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}
