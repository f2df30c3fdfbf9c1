import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { JournaledProviderStore } from '../../local/payment-provider/journaled-store.js';

test('a reopened journal restores authorizations, ledger, faults and answered keys, and forgets unanswered ones', async () => {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'provider-journal-')), 'provider.jsonl');
  const first = await JournaledProviderStore.open(file);
  const authorization = {
    authorizationId: 'auth_1',
    orderId: 'order-1',
    amountCents: 500,
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    status: 'authorized',
    capturedCents: 0,
    refundedCents: 0,
    faultGeneration: 0,
    createdAt: new Date(0).toISOString(),
  } as unknown as Parameters<JournaledProviderStore['insertAuthorization']>[0];
  await first.insertAuthorization(authorization);
  await first.updateAuthorization(
    'auth_1',
    { status: 'authorized' } as never,
    { status: 'captured' } as never,
  );
  await first.appendLedgerEntry({
    operation: 'capture',
    orderId: 'order-1',
    authorizationId: 'auth_1',
    amountCents: 500,
    outcome: 'succeeded',
    idempotencyKey: 'order-1:capture',
    at: new Date(0).toISOString(),
  });
  await first.claimIdempotencyKey('order-1:capture', 'fp');
  await first.completeIdempotencyKey('order-1:capture', { kind: 'hold' });
  await first.claimIdempotencyKey('order-2:authorize', 'fp-2');
  await first.setFaults({ latencyMs: 25 });

  const reopened = await JournaledProviderStore.open(file);

  expect((await reopened.getAuthorization('auth_1'))?.status).toBe('captured');
  expect(await reopened.listLedgerEntries()).toHaveLength(1);
  expect((await reopened.getFaults()).latencyMs).toBe(25);
  expect(await reopened.claimIdempotencyKey('order-1:capture', 'fp')).toMatchObject({ state: 'completed' });
  // The request that never got its answer may run again.
  expect(await reopened.claimIdempotencyKey('order-2:authorize', 'fp-2')).toBeUndefined();
});
