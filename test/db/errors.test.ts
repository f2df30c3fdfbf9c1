import { describe, expect, test } from 'vitest';
import {
  DatabaseUnavailableError,
  isDatabaseNotReachableYet,
  isTransientDatabaseError,
  toDatabaseError,
} from '../../src/db/errors.js';

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

  test('the cause chain is walked five errors deep, no further', () => {
    const buried = (depth: number) => {
      let error: Error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      for (let i = 0; i < depth; i++) error = new Error(`wrapper ${i}`, { cause: error });
      return error;
    };

    expect(isTransientDatabaseError(buried(4))).toBe(true);
    expect(isTransientDatabaseError(buried(5))).toBe(false);
  });

  test("the translated error's message keeps the first 300 characters of the driver's", () => {
    const driver = Object.assign(new Error('x'.repeat(1_000)), { code: 'ECONNRESET' });

    const translated = toDatabaseError(driver) as DatabaseUnavailableError;

    expect(translated).toBeInstanceOf(DatabaseUnavailableError);
    expect(translated.message).toBe(`database unavailable (${`Error: ${'x'.repeat(1_000)}`.slice(0, 300)})`);
    expect(translated.cause).toBe(driver);
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
