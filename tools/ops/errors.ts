/**
 * A failure the operator can act on, printed as one line (no stack trace). `exitCode` 2 is a
 * usage mistake, 1 everything else.
 */
export class OpsError extends Error {
  override readonly name = 'OpsError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
