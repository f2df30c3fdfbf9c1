/** `Name: message` of an error, cut to `maxLength`: for audit columns and logs, never for clients. */
export function describeError(error: unknown, maxLength = 1000): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, maxLength);
}
