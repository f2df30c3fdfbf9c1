import postgres from 'postgres';
import { describe, expect, test } from 'vitest';
import {
  GATEWAY_PROBLEMS,
  PROBLEM_CODES,
  PROBLEMS,
  problemFromError,
  problemType,
} from '../../src/api/problems.js';
import { API_ROUTES } from '../../src/api/routes.js';
import { DatabaseUnavailableError, isTransientDatabaseError, toDatabaseError } from '../../src/db/errors.js';

describe('problem mapping', () => {
  test('THROTTLED, answered by API Gateway, has a problem body, status 429 and Retry-After', () => {
    const throttled = GATEWAY_PROBLEMS.find((problem) => problem.responseType === 'THROTTLED');

    expect(throttled?.statusCode).toBe(429);
    expect(JSON.parse(throttled?.body ?? '{}')).toEqual({
      type: 'urn:problem:checkout:throttled',
      title: 'Too many requests',
      status: 429,
      detail: expect.any(String),
      code: 'THROTTLED',
    });
    expect(throttled?.headers).toEqual({
      'Content-Type': "'application/problem+json'",
      'X-Correlation-Id': 'method.request.header.X-Correlation-Id',
      'Retry-After': "'1'",
    });
  });

  test('every gateway problem is a well-formed problem whose status matches its code', () => {
    for (const problem of GATEWAY_PROBLEMS) {
      const body = JSON.parse(problem.body) as { status: number; code: keyof typeof PROBLEMS };
      expect(body.code).toBe(problem.code);
      expect(body.status).toBe(problem.statusCode);
      expect(PROBLEMS[body.code].status).toBe(problem.statusCode);
    }
  });

  test('every defined code is declared by a route or by a gateway response, so the route tests produce it', () => {
    const declared = new Set<string>(GATEWAY_PROBLEMS.map((problem) => problem.code));
    for (const route of API_ROUTES) {
      for (const codes of [...Object.values(route.responses), ...Object.values(route.gatewayResponses)]) {
        for (const code of codes) declared.add(code);
      }
    }
    expect([...declared].sort()).toEqual([...PROBLEM_CODES].sort());
  });

  test('codes have distinct type URIs and error statuses', () => {
    expect(new Set(PROBLEM_CODES.map(problemType)).size).toBe(PROBLEM_CODES.length);
    for (const code of PROBLEM_CODES) expect(PROBLEMS[code].status).toBeGreaterThanOrEqual(400);
  });

  test('an unexpected error becomes a generic 500 that says nothing of the error', () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'password=hunter2')");

    const { response, serverFault } = problemFromError(error);

    expect(serverFault).toBe(true);
    expect(response.statusCode).toBe(500);
    expect(response.code).toBe('INTERNAL_ERROR');
    expect(response.body).not.toMatch(/hunter2|TypeError|undefined|at /);
  });

  test.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      true,
    ],
    [
      'a connect timeout',
      Object.assign(new Error('write CONNECT_TIMEOUT'), { code: 'CONNECT_TIMEOUT' }),
      true,
    ],
    [
      'a serialization failure',
      new postgres.PostgresError({ code: '40001', message: 'could not serialize' } as never),
      true,
    ],
    [
      'a statement timeout',
      new postgres.PostgresError({ code: '57014', message: 'canceling statement' } as never),
      true,
    ],
    [
      'an admin shutdown',
      new postgres.PostgresError({ code: '57P01', message: 'terminating' } as never),
      true,
    ],
    [
      'a connection failure',
      new postgres.PostgresError({ code: '08006', message: 'connection failure' } as never),
      true,
    ],
    [
      'a wrapped refused connection',
      new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ECONNREFUSED' }) }),
      true,
    ],
    [
      'a missing function',
      new postgres.PostgresError({ code: '42883', message: 'function does not exist' } as never),
      false,
    ],
    [
      'a constraint violation',
      new postgres.PostgresError({ code: '23514', message: 'check violation' } as never),
      false,
    ],
    [
      "one refusal per address tried (Node's connect over IPv4 and IPv6), without a code of its own",
      new AggregateError(
        [Object.assign(new Error('v6'), { code: 'ECONNREFUSED' }), new Error('v4')],
        'connect',
      ),
      true,
    ],
    [
      'an AggregateError of errors that are not connection failures',
      new AggregateError([new Error('a')]),
      false,
    ],
    [
      'an error with a code that is not a connection failure',
      Object.assign(new Error('denied'), { code: 'EACCES' }),
      false,
    ],
    [
      'a DatabaseUnavailableError inside another error',
      new Error('outer', { cause: new DatabaseUnavailableError('database unavailable') }),
      true,
    ],
    ['a plain error', new Error('bug'), false],
  ])('%s is transient: %s', (_, error, transient) => {
    expect(isTransientDatabaseError(error)).toBe(transient);
    // The data layer translates driver errors; the HTTP mapping sees only the named error.
    expect(problemFromError(toDatabaseError(error)).response.code).toBe(
      transient ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR',
    );
  });

  test('a transient driver error becomes DatabaseUnavailableError, by name, saying why and keeping the cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });

    const translated = toDatabaseError(refused);

    expect(translated).toBeInstanceOf(DatabaseUnavailableError);
    // The name is what every saga Task's Retry matches (statemachines/payment-saga.asl.json).
    expect(translated).toMatchObject({
      name: 'DatabaseUnavailableError',
      message: 'database unavailable (Error: connect ECONNREFUSED 10.0.0.5:5432)',
      cause: refused,
    });
    expect(toDatabaseError(translated)).toBe(translated);
  });
});
