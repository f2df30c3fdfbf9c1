import type { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CompensationStore } from '../../src/db/compensations.js';
import {
  COMPENSATION_METRIC_NAMES,
  powertoolsCompensationMetrics,
} from '../../src/saga/compensation-metrics.js';
import { emfMetrics } from '../api/support/environment.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderWithFailedCompensation, seedProducts } from '../support/fixtures.js';

describe('compensation KPIs, emitted from what the audit table changed', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedProducts(db.sql, { 'KPI-1': { onHand: 10 } });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function failedCompensation(): Promise<string> {
    const { compensationId } = await orderWithFailedCompensation(db.sql, {
      items: [{ sku: 'KPI-1', quantity: 1 }],
    });
    return compensationId;
  }

  /** The EMF document the stored metrics would be flushed as: metric name -> values. */
  function emitted(metrics: Metrics): Record<string, number[]> {
    const document = metrics.serializeMetrics() as unknown as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] };
    };
    const names = document._aws.CloudWatchMetrics[0]?.Metrics.map((metric) => metric.Name) ?? [];
    return Object.fromEntries(names.map((name) => [name, ([] as number[]).concat(document[name] as number)]));
  }

  test('attempts, failures, the move to the DLQ and the resolution with its time from failure', async () => {
    const metrics = emfMetrics();
    const store = new CompensationStore(db.sql, powertoolsCompensationMetrics(metrics));
    const compensationId = await failedCompensation();
    await db.sql`
      update failed_compensations set created_at = now() - interval '90 seconds'
      where compensation_id = ${compensationId}
    `;

    await store.recordAttempt(compensationId);
    await store.recordFailure(compensationId, {
      error: 'PaymentProviderError: void failed',
      final: true,
      providerState: null,
    });
    await store.recordAttempt(compensationId);
    await store.markResolved(compensationId);

    const values = emitted(metrics);
    expect(values[COMPENSATION_METRIC_NAMES.attempts]).toEqual([1, 1]);
    expect(values[COMPENSATION_METRIC_NAMES.attemptFailures]).toEqual([1]);
    expect(values[COMPENSATION_METRIC_NAMES.exhausted]).toEqual([1]);
    expect(values[COMPENSATION_METRIC_NAMES.resolved]).toEqual([1]);
    const [seconds] = values[COMPENSATION_METRIC_NAMES.timeToResolve] ?? [];
    expect(seconds).toBeGreaterThanOrEqual(90);
    expect(seconds).toBeLessThan(120);
  });

  test('a late duplicate delivery after the resolution counts nothing more', async () => {
    const compensationId = await failedCompensation();
    await new CompensationStore(db.sql).markResolved(compensationId);
    const metrics = emfMetrics();
    const store = new CompensationStore(db.sql, powertoolsCompensationMetrics(metrics));

    await store.recordAttempt(compensationId);
    await store.recordFailure(compensationId, { error: 'late', final: false, providerState: null });
    await store.markResolved(compensationId);

    expect(emitted(metrics)).toEqual({});
  });
});
