import type { ProblemCode } from '../../../src/api/problems.js';
import { routeById } from '../../../src/api/routes.js';
import type { ApiResult } from './events.js';
import { openApiViolations } from './openapi-responses.js';

/**
 * Records which statuses and problem codes the tests of a file have produced per route, so the
 * file's last test can assert that every response the route table declares was produced (and
 * asserted on) by some test, and that no undeclared one was.
 */
export function createRouteCoverage(operationIds: readonly string[]) {
  const seen = new Map<string, Set<string>>(operationIds.map((id) => [id, new Set()]));
  const undeclared: string[] = [];
  const violations: string[] = [];

  function keyOf(status: number, code: string | undefined): string {
    return code ? `${status} ${code}` : `${status}`;
  }

  return {
    /** Call with every response a test asserts on; returns it for chaining. */
    record(operationId: string, result: ApiResult): ApiResult {
      const set = seen.get(operationId);
      if (!set) throw new Error(`coverage does not track ${operationId}`);
      const code = typeof result.json.code === 'string' ? result.json.code : undefined;
      const key = keyOf(result.statusCode, code);
      set.add(key);
      const declared = routeById(operationId).responses[result.statusCode];
      if (!declared || (code !== undefined && !declared.includes(code as ProblemCode))) {
        undeclared.push(`${operationId}: ${key}`);
      }
      // Every response a test asserts on is checked against docs/openapi.yaml as well.
      violations.push(...openApiViolations(operationId, result));
      return result;
    },
    /**
     * Declared responses no test produced, produced responses the table does not declare, and
     * responses whose status, content type or body docs/openapi.yaml does not describe.
     */
    gaps(): { missing: string[]; undeclared: string[]; violations?: string[] } {
      const missing: string[] = [];
      for (const [operationId, set] of seen) {
        for (const [status, codes] of Object.entries(routeById(operationId).responses)) {
          const wanted =
            codes.length === 0
              ? [keyOf(Number(status), undefined)]
              : codes.map((c) => keyOf(Number(status), c));
          for (const key of wanted) if (!set.has(key)) missing.push(`${operationId}: ${key}`);
        }
      }
      return {
        missing,
        undeclared: [...new Set(undeclared)],
        ...(violations.length > 0 ? { violations: [...new Set(violations)] } : {}),
      };
    },
  };
}
