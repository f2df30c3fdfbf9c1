import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  type CapacityInputs,
  capacityMarkdown,
  capacityModel,
  replaceTable,
  TABLE_END,
  TABLE_START,
} from '../../bench/lib/capacity.js';
import { loadPrices } from '../../bench/lib/cost.js';
import { componentOf, postgresCpuPerCheckout } from '../../bench/lib/database-cost.js';
import { processGroupLabel, processKind } from '../../bench/lib/postgres-processes.js';
import type { CostResult } from '../../bench/scenarios/cost.js';

const inputs = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../bench/capacity-inputs.json'), 'utf8'),
) as CapacityInputs;

/** A run's cost scenario with the measured figures the model reads. */
function run(databaseCpuMs: number): CostResult {
  const usage = {
    checkouts: 100,
    apiRequests: 1,
    stateTransitions: 4,
    executions: 1,
    lambda: {},
    lambdaInvocations: 3,
    lambdaBilledMs: 60,
    coldStarts: 0,
    lambdaGbSeconds: 0.06,
    sagaTaskInvocations: 2,
    sagaTaskGbSeconds: 0.04,
    dynamodbWrites: 2,
    dynamodbReads: 0,
    sqsRequests: 0,
    sqsPolls: 0,
    events: 2,
  };
  return {
    memoryMb: 1024,
    happy: {
      usage,
      database: {
        cpu: { allPostgresMs: databaseCpuMs, sessionsOpened: 0 },
        reference: { roundTrips: 10, wallUs: 100, backendCpuUs: 25 },
        roundTripsPerCheckout: 5,
        machine: { loadAverageBefore: 0.5, loadAverageAfter: 0.5, quiet: true },
      },
    },
  } as unknown as CostResult;
}

describe('the capacity model (docs/capacity.md)', () => {
  test('the database binds on a small instance, the StartExecution quota once the database has room', () => {
    const model = capacityModel(run(4.2), inputs, loadPrices());

    const large = model.rows.find((row) => row.instanceClass === 'db.m7g.large');
    // 2 vCPU × 60 % / 4.2 ms = 286 checkouts/s: under the 300/s StartExecution refill.
    expect(large?.databaseLimit).toBe(286);
    expect(large?.regions[0]).toEqual({
      region: inputs.regions[0]?.name,
      sustained: 286,
      binding: 'database CPU',
    });
    const xlarge = model.rows.find((row) => row.instanceClass === 'db.m7g.xlarge');
    expect(xlarge?.regions[0]).toMatchObject({ sustained: 300, binding: 'StartExecution quota' });
    // Elsewhere the refill is 150/s.
    expect(xlarge?.regions[1]).toMatchObject({ sustained: 150, binding: 'StartExecution quota' });
  });

  test('a cheaper checkout moves the database bound up in proportion', () => {
    const before = capacityModel(run(4.2), inputs, loadPrices());
    const after = capacityModel(run(1.4), inputs, loadPrices());

    expect(after.rows[0]?.databaseLimit).toBe(857);
    expect(after.rows[0]?.databaseLimit).toBeGreaterThan((before.rows[0]?.databaseLimit ?? 0) * 2.9);
    expect(after.rows[0]?.databaseDollarsPerMillion).toBeLessThan(
      before.rows[0]?.databaseDollarsPerMillion ?? 0,
    );
  });

  test('refuses a run without a database measurement', () => {
    const cost = run(1);
    const without = { ...cost, happy: { ...cost.happy, database: undefined } } as unknown as CostResult;

    expect(() => capacityModel(without, inputs, loadPrices())).toThrow(/no PostgreSQL CPU/);
  });

  test('writes only the section between the markers', () => {
    const cost = run(1.5);
    const table = capacityMarkdown(capacityModel(cost, inputs, loadPrices()), {
      label: 'a test run',
      cost,
      inputs,
      prices: loadPrices(),
    });
    const document = `# Capacity\n\nbefore\n${TABLE_START}\nold\n${TABLE_END}\nafter\n`;

    const written = replaceTable(document, table);

    expect(written.startsWith('# Capacity\n\nbefore\n')).toBe(true);
    expect(written.endsWith(`${TABLE_END}\nafter\n`)).toBe(true);
    expect(written).not.toContain('\nold\n');
    expect(written).toContain('| db.m7g.large | 2 | 800 |');
  });
});

describe('statements by component', () => {
  test.each([
    ['select "place_or_find_order"( $1::uuid, $2 ) as result', 'checkout API (placeOrder)'],
    ['select place_order( $1::uuid ) as result', 'checkout API (placeOrder)'],
    ['select capture_and_confirm($1::uuid, $2, $3) as result', 'CapturePayment'],
    ['select payment_step_view($1::uuid) as view', 'order reads (API, saga steps)'],
    ['with due as ( select id from outbox_events where published_at is null', 'outbox relay'],
    ['with stuck as ( select o.id from orders o where o.recovery_lease_until is null', 'sweeper'],
    ['with claimed as ( update orders set recovery_lease_until = now()', 'saga starter'],
    ['select $1', 'readiness / ping'],
  ])('%s is %s', (query, component) => {
    expect(componentOf(query)).toBe(component);
  });

  test("the model reads the scheduler's total of every PostgreSQL process when the run has it", () => {
    const measured = run(6.4);
    const database = {
      ...measured.happy.database,
      checkouts: 100,
      processes: {
        totalMs: 420,
        groups: [],
        postmasterMs: 0,
        endedUnsampledMs: 0,
        excludedMs: 0,
        samples: 1,
      },
    };
    const withProcesses = { ...measured, happy: { ...measured.happy, database } } as unknown as CostResult;

    expect(postgresCpuPerCheckout(withProcesses.happy.database)).toBe(4.2);
    expect(capacityModel(withProcesses, inputs, loadPrices()).rows[0]?.databaseLimit).toBe(286);
    // Without it, the /proc tick total as before.
    expect(postgresCpuPerCheckout(measured.happy.database)).toBe(6.4);
  });

  test.each([
    ['postgres: walwriter ', 'walwriter'],
    ['postgres: autovacuum worker checkout', 'autovacuum worker'],
    ['postgres: background writer ', 'background writer'],
    ['postgres: checkout_app postgres 127.0.0.1(51234) idle', 'client backend'],
  ])('a PostgreSQL process titled %j is a %s', (title, kind) => {
    expect(processKind(title)).toBe(kind);
  });
});

describe('PostgreSQL processes by group', () => {
  test("PgBouncer's server connections are not counted with the stack's own connection of the same name", () => {
    const pooled = processGroupLabel({
      kind: 'client backend',
      applicationName: 'postgres.js',
      role: 'checkout_app',
    });
    const admin = processGroupLabel({
      kind: 'client backend',
      applicationName: 'postgres.js',
      role: 'postgres',
    });

    expect(pooled).toBe('backend postgres.js');
    expect(admin).toBe('backend postgres.js (postgres)');
  });

  test('a function backend is its name; a background process its kind', () => {
    expect(
      processGroupLabel({
        kind: 'client backend',
        applicationName: 'checkout-placeOrder',
        role: 'checkout_app',
      }),
    ).toBe('backend checkout-placeOrder');
    expect(processGroupLabel({ kind: 'walwriter' })).toBe('walwriter');
  });
});
