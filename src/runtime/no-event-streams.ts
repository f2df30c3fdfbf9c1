/**
 * What the deployed bundles have instead of `@smithy/core/event-streams` (the bundling alias in
 * `lib/constructs/function-bundling.ts`, docs/adr/0015). The SDK's protocol layer imports that
 * module (15 KiB minified) into every client, to load it only for an operation whose input or
 * output is an event stream; no operation of the clients the functions use (DynamoDB, SQS, Step
 * Functions, EventBridge, Secrets Manager) has one.
 *
 * A client that has event streams imports `resolveEventStreamSerdeConfig` from the module as
 * well, which is not here: its bundle fails to build instead of failing in Lambda. Should an
 * event stream be reached anyway, the error says why.
 */
export function eventStreamSerdeProvider(): never {
  throw new Error(
    'event streams are not bundled into the functions (docs/adr/0015-lambda-bundles-carry-only-what-lambda-runs.md): ' +
      'drop the @smithy/core/event-streams alias in lib/constructs/function-bundling.ts to use a streaming operation',
  );
}
