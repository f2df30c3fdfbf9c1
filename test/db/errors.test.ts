import { describe, expect, test } from 'vitest';
import { isDatabaseNotReachableYet, isTransientDatabaseError } from '../../src/db/errors.js';

/**
 * The data layer's error mapping on its own (pure logic); test/api/problems.test.ts covers what
 * each error becomes for a client, test/infra/migrate-handler.test.ts the retries built on it.
 */
describe('database error mapping', () => {
  test('a cause chain that loops ends the walk instead of hanging: not transient', () => {
    const looping = new Error('outer');
    looping.cause = looping;

    expect(isTransientDatabaseError(looping)).toBe(false);
  });

  test.each([
    ['a connection exception (class 08)', '08006', true],
    ['a failed authentication (class 28), as while an IAM grant propagates', '28P01', true],
    ['a refused connection', 'ECONNREFUSED', true],
    ['a missing table, an error of the migration itself', '42P01', false],
    ['a code that merely ends like class 08', '42P08', false],
    ['a code that merely ends like class 28', '22028', false],
  ])('"not reachable yet" on a first deploy: %s (%s) is %s', (_, code, expected) => {
    expect(isDatabaseNotReachableYet(Object.assign(new Error('failed'), { code }))).toBe(expected);
  });

  test('what is not an Error, or has no code, is never "not reachable yet"', () => {
    expect(isDatabaseNotReachableYet(null)).toBe(false);
    expect(isDatabaseNotReachableYet('ECONNREFUSED')).toBe(false);
    expect(isDatabaseNotReachableYet(new Error('no code'))).toBe(false);
  });
});
