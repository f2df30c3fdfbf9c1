// A StrykerJS ignorer (`npm run mutate`, docs/testing.md, "Mutation testing"): log statements of the
// money path are not mutated. What a log line says, and which keys it carries, is read by people;
// no outcome of a checkout, a payment or a compensation depends on it, so a test that pinned its
// wording would prove nothing about money. Metrics are not logs: they are mutated and tested.
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';

/** The loggers of the money path: the shared `logger` and the per-record child `log`. */
const LOGGERS = new Set(['logger', 'log']);
/** Their methods that only write or shape log lines. */
const LOG_METHODS = new Set([
  'debug',
  'info',
  'warn',
  'error',
  'critical',
  'appendKeys',
  'resetKeys',
  'removeKeys',
]);

/** Functions that only set the keys of the log lines that follow (src/runtime/observability.ts). */
const LOG_KEY_FUNCTIONS = new Set(['useCorrelationId']);

/** `logger.info(...)`, `log.warn(...)`: a call of a logging method on one of the loggers. */
function isLogCall(node) {
  if (node?.type !== 'CallExpression') return false;
  const callee = node.callee;
  if (callee.type === 'Identifier') return LOG_KEY_FUNCTIONS.has(callee.name);
  return (
    callee.type === 'MemberExpression' &&
    callee.object.type === 'Identifier' &&
    LOGGERS.has(callee.object.name) &&
    callee.property.type === 'Identifier' &&
    LOG_METHODS.has(callee.property.name)
  );
}

/**
 * A statement that is a log call, a block of nothing but log calls, or a function whose body is one
 * (a `.catch` that only logs: emptied, or made `() => undefined`, it still swallows the error).
 */
function onlyLogs(node) {
  switch (node?.type) {
    case 'ExpressionStatement':
      return isLogCall(node.expression);
    case 'BlockStatement':
      return node.body.length > 0 && node.body.every(onlyLogs);
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
      return node.body.type === 'BlockStatement' ? onlyLogs(node.body) : isLogCall(node.body);
    default:
      return false;
  }
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'Logging', {
    shouldIgnore(path) {
      if (onlyLogs(path.node) || isLogCall(path.node)) {
        return 'a log statement: its words and keys are for people, no money outcome depends on them';
      }
      return undefined;
    },
  }),
];
