/** Configuration is read from the environment once, at cold start, and fails fast by name. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** The value of a required environment variable. */
export function requiredEnv(name: string, environment: NodeJS.ProcessEnv = process.env): string {
  const value = environment[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is required but not set`);
  }
  return value;
}

/** A positive integer from the environment, or the default when unset. */
export function integerEnv(
  name: string,
  defaultValue: number,
  environment: NodeJS.ProcessEnv = process.env,
): number {
  const raw = environment[name];
  if (raw === undefined || raw.trim() === '') return defaultValue;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`environment variable ${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}
