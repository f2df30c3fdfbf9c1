import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { OrderStore } from '../../src/db/orders.js';
import { placeSagaOrder, type SagaEnvironment, startSagaEnvironment } from '../support/saga-environment.js';

/** What the worker's invocation has in this test, and what its records need after a provider call. */
const INVOCATION_MS = 3_000;
const RESERVE_MS = 1_000;

/**
 * The compensation worker's worst case inside its invocation (docs/adr/0020): a provider that does
 * not answer would hold each call for its whole client timeout (20 s here, far beyond the
 * invocation). Bounded by the time left, the call gives up while the compensation's failure can
 * still be recorded, and the record comes back as a batch item failure instead of the invocation
 * timing out with nothing recorded (and the last-attempt re-queue skipped).
 */
describe('the compensation worker with a provider that does not answer (real PostgreSQL, provider over HTTP)', () => {
  let env: SagaEnvironment;

  beforeAll(async () => {
    env = await startSagaEnvironment({
      PAYMENT_TIMEOUT_MS: '20000',
      PAYMENT_DEADLINE_RESERVE_MS: String(RESERVE_MS),
    });
  });
  afterAll(async () => {
    await env?.clearFaults();
    await env?.close();
  });

  test('the record fails inside the invocation, its failure recorded, instead of the invocation timing out', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    const compensationId = `${order.orderId}:compensation`;
    await new OrderStore(env.db.sql).markRequiresAttention({
      orderId: order.orderId,
      correlationId: order.correlationId,
      compensationId,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
      error: 'States.Timeout',
      cancellationReason: 'PAYMENT_AUTHORIZATION_TIMEOUT',
    });
    await env.setFaults({ latencyMs: 60_000 });
    const message = {
      compensationId,
      orderId: order.orderId,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
      cancellationReason: 'PAYMENT_AUTHORIZATION_TIMEOUT',
      error: 'States.Timeout',
      correlationId: order.correlationId,
    };
    const event = {
      Records: [
        {
          messageId: 'm-deadline-1',
          receiptHandle: 'r-1',
          body: JSON.stringify(message),
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:checkout-compensations',
          awsRegion: 'us-east-1',
        },
      ],
    } as unknown as SQSEvent;
    const { handler } = await import('../../lambdas/workers/compensation-worker.js');

    const response = (await handler(
      event,
      createLambdaContext({ functionName: 'checkout-CompensationWorker', timeoutMs: INVOCATION_MS }),
    )) as SQSBatchResponse;

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-deadline-1' }]);
    const [row] = await env.db.sql<{ attempts: number; status: string; last_error: string }[]>`
      select attempts, status, last_error from failed_compensations where compensation_id = ${compensationId}
    `;
    expect(row).toMatchObject({ attempts: 1, status: 'RETRYING' });
    const allowed = Number(/no answer within (\d+) ms/.exec(row?.last_error ?? '')?.[1]);
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(INVOCATION_MS - RESERVE_MS);
  });
});
