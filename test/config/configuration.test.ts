import { describe, expect, test } from 'vitest';
import { ConfigurationError, readConfig, readGroup } from '../../src/config/declarations.js';
import { CHECKOUT_FUNCTION, declarationOf } from '../../src/config/functions.js';
import { CONFIG_GROUPS, database, outboxRelay, stateMachine } from '../../src/config/variables.js';
import { createDatabasePool } from '../../src/roots/database.js';

describe('configuration', () => {
  test('a handler that lacks variables fails at once, naming every one of them', () => {
    const environment = { IDEMPOTENCY_TABLE_NAME: 'idempotency', DB_POOL_MAX: 'two' };

    const read = () => readConfig(CHECKOUT_FUNCTION, environment);

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(/DB_POOL_MAX must be a non-negative integer, got "two"/);
    expect(read).toThrow(/STATE_MACHINE_ARN is required but not set/);
  });

  test('unset variables take their declared defaults; set ones are parsed', () => {
    const relay = readGroup(outboxRelay, { EVENT_BUS_NAME: 'checkout-events', OUTBOX_BATCH_SIZE: '10' });

    expect(relay).toEqual({
      eventBusName: 'checkout-events',
      batchSize: 10,
      leaseSeconds: 60,
      maxBackoffSeconds: 900,
      stopMarginMs: 15_000,
    });
  });

  test('given values stand in for the environment, unparsed and unchecked', () => {
    const values = readGroup(
      stateMachine,
      {},
      { arn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:saga' },
    );

    expect(values.arn).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:saga');
  });

  test('the pool names the proxy variable it misses when there is no DATABASE_URL', () => {
    const config = readGroup(database, {
      DB_USER: 'checkout_app',
      DB_NAME: 'checkout',
      AWS_REGION: 'eu-west-1',
    });

    expect(() => createDatabasePool(config)).toThrow(/DB_PROXY_ENDPOINT is required but not set/);
  });

  test('every variable is declared once, with documentation, and a handler reads the common groups', () => {
    const variables = CONFIG_GROUPS.flatMap((group) => Object.values(group.variables));
    const byName = new Map(variables.map((variable) => [variable.name, variable]));

    for (const variable of variables) {
      expect(byName.get(variable.name), `${variable.name} is declared twice, differently`).toBe(variable);
      expect(variable.doc.length, `${variable.name} has no documentation`).toBeGreaterThan(10);
    }
    expect(declarationOf('lambdas/saga/confirm-order.ts', 'handler')?.map((group) => group.key)).toEqual([
      'lambda',
      'powertools',
      'database',
      'paymentProvider',
      'providerSecret',
    ]);
    expect(declarationOf('lambdas/api/unknown.ts', 'handler')).toBeUndefined();
  });
});
