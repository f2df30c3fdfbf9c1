import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, auditPayments, violationsOf } from '../../bench/lib/invariants.js';
import { type SimulatedProvider, startSimulatedProvider } from '../../local/payment-provider/server.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import { IllegalTransitionError, OrderFencedError, OrderNotFoundError } from '../../src/domain/errors.js';
import { PaymentDeclinedError, PaymentProviderTransientError } from '../../src/payments/errors.js';
import type { PaymentGateway } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { type CompensationStep, PaymentSaga } from '../../src/saga/steps.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { controlProviderFaults, placeSagaOrder, providerLedger } from '../support/saga-environment.js';

/**
 * Each step of the payment saga on its own, as its task handler runs it, over a PostgreSQL database
 * and the simulated provider over HTTP: what it records, what it asks the provider for (amounts,
 * idempotency keys), and what it answers and throws. The saga's tests (payment-saga.test.ts and the
 * fault tests beside it) run the same steps through the real ASL; these pin each step's own
 * decisions and run in a fraction of the time (docs/testing.md, "Mutation testing").
 */
describe('the payment saga steps (PostgreSQL, provider over HTTP)', () => {
  let db: TestDatabase;
  let provider: SimulatedProvider;
  let orders: OrderStore;
  let saga: PaymentSaga;

  const sagaOver = (store: OrderStore) =>
    new PaymentSaga({
      orders: store,
      payments: createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: 2_000 }),
    });
  const ledger = (orderId: string) => providerLedger(provider.url, orderId);
  const calls = async (orderId: string) =>
    (await ledger(orderId)).map((e) => `${e.operation} ${e.outcome} ${e.amountCents} ${e.idempotencyKey}`);
  const place = (paymentMethod: string, options: { storeCreditCents?: number } = {}) =>
    placeSagaOrder({ db }, paymentMethod, options);
  /** Gives back what a test's order still holds, so the audit at the end finds nothing held. */
  const giveBack = (order: { orderId: string; correlationId: string }) =>
    saga.compensate({ ...order, steps: ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'], reason: 'test' });

  /**
   * An order store on which compensation fences the order at the moment the step records its side
   * effect: the step read the order unfenced, called the provider, and the fence came in between.
   */
  class FencedBeforeRecord extends OrderStore {
    override async markAuthorized(orderId: string, authorizationId: string, correlationId: string) {
      await this.fence(orderId, 'compensation');
      return super.markAuthorized(orderId, authorizationId, correlationId);
    }
    override async captureAndConfirm(orderId: string, captureId: string, correlationId: string) {
      await this.fence(orderId, 'compensation');
      return super.captureAndConfirm(orderId, captureId, correlationId);
    }
    override async confirm(orderId: string, correlationId: string) {
      await this.fence(orderId, 'compensation');
      return super.confirm(orderId, correlationId);
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    provider = await startSimulatedProvider({ port: 0 });
    orders = new OrderStore(db.sql);
    saga = sagaOver(orders);
  });
  afterAll(async () => {
    await provider?.close();
    await db?.drop();
  });
  afterEach(async () => {
    await controlProviderFaults(provider.url, 'DELETE');
    const reports = [
      ...(await auditDatabase(db.sql)),
      ...(await auditPayments(db.sql, await providerLedger(provider.url))),
    ];
    expect(violationsOf(reports)).toEqual([]);
  });

  describe('AuthorizePayment', () => {
    test('authorizes the charge under the order key and records it: AUTHORIZED with the provider id', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 500 });

      const { authorizationId } = await saga.authorizePayment(order);

      expect(await calls(order.orderId)).toEqual([`authorize succeeded 1500 ${order.orderId}:authorize`]);
      expect((await ledger(order.orderId))[0]?.authorizationId).toBe(authorizationId);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({
        status: 'AUTHORIZED',
        payment: { status: 'AUTHORIZED', authorizationId },
      });
      const [sent] = await provider.state.listAuthorizationsForOrder(order.orderId);
      expect(sent).toMatchObject({ currency: 'USD', paymentMethod: 'pm_card_visa', amountCents: 1500 });
    });

    test('run again once authorized or captured, it answers from the record and calls nobody', async () => {
      const order = await place('pm_card_visa');
      const { authorizationId } = await saga.authorizePayment(order);

      expect(await saga.authorizePayment(order)).toEqual({ authorizationId });
      await saga.capturePayment(order);
      expect(await saga.authorizePayment(order)).toEqual({ authorizationId });
      expect((await calls(order.orderId)).filter((c) => c.startsWith('authorize'))).toHaveLength(1);
    });

    test('a decline is recorded and thrown; run again, it is thrown again without asking', async () => {
      const order = await place('pm_card_declined');

      await expect(saga.authorizePayment(order)).rejects.toMatchObject({
        name: PaymentDeclinedError.name,
        message: expect.stringContaining('card_declined'),
      });
      await expect(saga.authorizePayment(order)).rejects.toMatchObject({
        name: PaymentDeclinedError.name,
        message: expect.stringContaining('previously declined'),
      });

      expect(await calls(order.orderId)).toEqual([`authorize declined 2000 ${order.orderId}:authorize`]);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ payment: { status: 'DECLINED' } });
      await saga.compensate({
        ...order,
        steps: ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'declined',
      });
    });

    test('an order compensation has fenced is not authorized: nobody is called', async () => {
      const order = await place('pm_card_visa');
      await saga.fenceOrder(order);

      await expect(saga.authorizePayment(order)).rejects.toMatchObject({
        name: 'OrderFencedError',
        transition: 'authorize payment of',
      });

      expect(await calls(order.orderId)).toEqual([]);
      await giveBack(order);
    });

    test('an order whose payment compensation voided is not authorized again, though its authorization id is known', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      await saga.reversePayment(order);

      await expect(saga.authorizePayment(order)).rejects.toBeInstanceOf(OrderFencedError);

      expect((await calls(order.orderId)).filter((c) => c.startsWith('authorize'))).toHaveLength(1);
      await giveBack(order);
    });

    test('an order parked for operators before its payment began is not authorized', async () => {
      const order = await place('pm_card_visa');
      await orders.markRequiresAttention({
        ...order,
        compensationId: `${order.orderId}:compensation`,
        steps: ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        error: 'States.Timeout',
        cancellationReason: 'SAGA_TIMED_OUT',
      });

      const refused = await saga.authorizePayment(order).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(Error);
      expect(await calls(order.orderId)).toEqual([]);
      await saga.compensate({
        ...order,
        steps: ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'SAGA_TIMED_OUT',
      });
    });

    test('a record that fails for another reason than the fence is thrown as it is, and nothing is reversed', async () => {
      const order = await place('pm_card_visa');
      class DatabaseGoneAtRecord extends OrderStore {
        override async markAuthorized(): Promise<never> {
          throw new DatabaseUnavailableError('the database went away');
        }
      }

      await expect(sagaOver(new DatabaseGoneAtRecord(db.sql)).authorizePayment(order)).rejects.toBeInstanceOf(
        DatabaseUnavailableError,
      );

      expect(await calls(order.orderId)).toEqual([`authorize succeeded 2000 ${order.orderId}:authorize`]);
      // The retry finds the provider's replayed authorization and records it.
      await saga.authorizePayment(order);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ payment: { status: 'AUTHORIZED' } });
      await saga.compensate({
        ...order,
        steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });

    test('an order with nothing to charge is refused, naming its payment status; nobody is called', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 2000 });

      const refused = await saga.authorizePayment(order).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(IllegalTransitionError);
      expect(refused).toMatchObject({
        transition: 'authorize payment of',
        status: 'PENDING',
        detail: { paymentStatus: 'NOT_REQUIRED' },
      });
      expect(await calls(order.orderId)).toEqual([]);
      await saga.confirmOrder(order);
    });

    test('an order that does not exist is OrderNotFoundError', async () => {
      const missing = { orderId: '00000000-0000-4000-8000-000000000001', correlationId: 'c' };
      await expect(saga.authorizePayment(missing)).rejects.toBeInstanceOf(OrderNotFoundError);
      await expect(saga.capturePayment(missing)).rejects.toBeInstanceOf(OrderNotFoundError);
      await expect(saga.reversePayment(missing)).rejects.toBeInstanceOf(OrderNotFoundError);
    });

    test('fenced between its read and its record: it voids its own authorization and ends fenced', async () => {
      const order = await place('pm_card_visa');

      const error = await sagaOver(new FencedBeforeRecord(db.sql))
        .authorizePayment(order)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(OrderFencedError);
      expect(await calls(order.orderId)).toEqual([
        `authorize succeeded 2000 ${order.orderId}:authorize`,
        `void succeeded 2000 ${order.orderId}:void`,
      ]);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({
        fenced: true,
        payment: { status: 'VOIDED' },
      });
      await giveBack(order);
    });

    test('fenced between its read and its record with the provider away: fenced, its reversal failure as the cause', async () => {
      const order = await place('pm_void_fails');

      const error = await sagaOver(new FencedBeforeRecord(db.sql))
        .authorizePayment(order)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(OrderFencedError);
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({
        fenced: true,
        payment: { status: 'PENDING' },
      });
      // Compensation, asking again once the provider is back, voids it.
      await controlProviderFaults(provider.url, 'DELETE');
      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });
      await giveBack(order);
    });
  });

  describe('CapturePayment', () => {
    test('captures the authorized charge under the order key, records it and confirms the order', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 700 });
      const { authorizationId } = await saga.authorizePayment(order);

      const { captureId } = await saga.capturePayment(order);

      expect(await calls(order.orderId)).toEqual([
        `authorize succeeded 1300 ${order.orderId}:authorize`,
        `capture succeeded 1300 ${order.orderId}:capture`,
      ]);
      const [authorization] = await provider.state.listAuthorizationsForOrder(order.orderId);
      expect(authorization).toMatchObject({ authorizationId, captureId, capturedCents: 1300 });
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({
        status: 'CONFIRMED',
        payment: { status: 'CAPTURED' },
      });
    });

    test('run again once confirmed, it answers without a capture id and calls nobody', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      await saga.capturePayment(order);

      expect(await saga.capturePayment(order)).toEqual({ captureId: null });
      expect((await calls(order.orderId)).filter((c) => c.startsWith('capture'))).toHaveLength(1);
      // Also one that store credit paid in full.
      const paidByCredit = await place('pm_card_visa', { storeCreditCents: 2000 });
      await saga.confirmOrder(paidByCredit);
      expect(await saga.capturePayment(paidByCredit)).toEqual({ captureId: null });
    });

    test('an order not authorized is refused, naming its payment status; nobody is called', async () => {
      const order = await place('pm_card_visa');

      const refused = await saga.capturePayment(order).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(IllegalTransitionError);
      expect(refused).toMatchObject({
        transition: 'capture payment of',
        detail: { paymentStatus: 'PENDING' },
      });
      expect(await calls(order.orderId)).toEqual([]);
      await giveBack(order);
    });

    test('an order compensation has fenced is not captured: nobody is called', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      await saga.fenceOrder(order);

      await expect(saga.capturePayment(order)).rejects.toMatchObject({
        name: 'OrderFencedError',
        transition: 'capture payment of',
      });

      expect((await calls(order.orderId)).filter((c) => c.startsWith('capture'))).toEqual([]);
      await saga.compensate({
        ...order,
        steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });

    test('a capture recorded but not confirmed is confirmed without capturing again', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      const [authorization] = await provider.state.listAuthorizationsForOrder(order.orderId);
      const { captureId } = await createHttpPaymentGateway({ baseUrl: provider.url }).capture({
        orderId: order.orderId,
        authorizationId: authorization?.authorizationId ?? '',
        amountCents: 2000,
        idempotencyKey: `${order.orderId}:capture`,
      });
      await orders.markCaptured(order.orderId, captureId, order.correlationId);

      expect(await saga.capturePayment(order)).toEqual({ captureId: null });

      expect((await calls(order.orderId)).filter((c) => c.startsWith('capture'))).toHaveLength(1);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
    });

    test('fenced between its capture and its record: it refunds its own capture and ends fenced', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);

      const error = await sagaOver(new FencedBeforeRecord(db.sql))
        .capturePayment(order)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(OrderFencedError);
      expect(await calls(order.orderId)).toEqual([
        `authorize succeeded 2000 ${order.orderId}:authorize`,
        `capture succeeded 2000 ${order.orderId}:capture`,
        `refund succeeded 2000 ${order.orderId}:refund`,
      ]);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ payment: { status: 'REFUNDED' } });
      await giveBack(order);
    });

    test('fenced before confirming a capture recorded earlier: it refunds the capture and ends fenced', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      const [authorization] = await provider.state.listAuthorizationsForOrder(order.orderId);
      const { captureId } = await createHttpPaymentGateway({ baseUrl: provider.url }).capture({
        orderId: order.orderId,
        authorizationId: authorization?.authorizationId ?? '',
        amountCents: 2000,
        idempotencyKey: `${order.orderId}:capture`,
      });
      await orders.markCaptured(order.orderId, captureId, order.correlationId);

      await expect(sagaOver(new FencedBeforeRecord(db.sql)).capturePayment(order)).rejects.toBeInstanceOf(
        OrderFencedError,
      );

      expect((await calls(order.orderId)).at(-1)).toBe(`refund succeeded 2000 ${order.orderId}:refund`);
      await giveBack(order);
    });
  });

  describe('ConfirmOrder', () => {
    test('confirms an order store credit paid in full, committing its stock', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 2000 });

      await saga.confirmOrder(order);

      expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
      expect(await calls(order.orderId)).toEqual([]);
    });
  });

  describe('ReversePayment', () => {
    test('voids an authorization under the order key and records VOIDED', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      await saga.fenceOrder(order);

      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });

      expect((await calls(order.orderId)).at(-1)).toBe(`void succeeded 2000 ${order.orderId}:void`);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ payment: { status: 'VOIDED' } });
      await giveBack(order);
    });

    test('refunds what was captured and not yet refunded, and records REFUNDED', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 400 });
      await saga.authorizePayment(order);
      const [authorization] = await provider.state.listAuthorizationsForOrder(order.orderId);
      // Captured at the provider, the record lost: only the provider knows.
      await createHttpPaymentGateway({ baseUrl: provider.url }).capture({
        orderId: order.orderId,
        authorizationId: authorization?.authorizationId ?? '',
        amountCents: 1600,
        idempotencyKey: `${order.orderId}:capture`,
      });
      await saga.fenceOrder(order);

      expect(await saga.reversePayment(order)).toEqual({ action: 'REFUNDED' });

      expect((await calls(order.orderId)).at(-1)).toBe(`refund succeeded 1600 ${order.orderId}:refund`);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ payment: { status: 'REFUNDED' } });
      await saga.compensate({
        ...order,
        steps: ['RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });

    test('refunds only what an earlier refund left, and nothing when nothing is left', async () => {
      const gateway = createHttpPaymentGateway({ baseUrl: provider.url });
      const captured = async () => {
        const order = await place('pm_card_visa');
        await saga.authorizePayment(order);
        const [authorization] = await provider.state.listAuthorizationsForOrder(order.orderId);
        const authorizationId = authorization?.authorizationId ?? '';
        await gateway.capture({
          ...order,
          authorizationId,
          amountCents: 2000,
          idempotencyKey: `${order.orderId}:capture`,
        });
        return { order, authorizationId };
      };
      // Refunds made at the provider by someone else (a support agent), under keys of their own.
      const partly = await captured();
      await gateway.refund({
        orderId: partly.order.orderId,
        authorizationId: partly.authorizationId,
        amountCents: 500,
        idempotencyKey: 'support-refund-1',
      });
      const fully = await captured();
      await gateway.refund({
        orderId: fully.order.orderId,
        authorizationId: fully.authorizationId,
        amountCents: 2000,
        idempotencyKey: 'support-refund-2',
      });

      expect(await saga.reversePayment(partly.order)).toEqual({ action: 'REFUNDED' });
      expect(await saga.reversePayment(fully.order)).toEqual({ action: 'REFUNDED' });

      expect((await calls(partly.order.orderId)).at(-1)).toBe(
        `refund succeeded 1500 ${partly.order.orderId}:refund`,
      );
      expect((await calls(fully.order.orderId)).at(-1)).toBe('refund succeeded 2000 support-refund-2');
      for (const { order } of [partly, fully]) {
        await giveBack(order);
      }
    });

    test('the order is fenced before the provider is asked, so an authorization starting meanwhile is refused', async () => {
      const order = await place('pm_card_visa');
      const payments = createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: 2_000 });
      let raced: unknown;
      // The saga's AuthorizePayment runs while compensation waits for the provider's answer.
      const racing: PaymentGateway = {
        ...payments,
        retrieve: async (input) => {
          raced = await saga.authorizePayment(order).catch((error: unknown) => error);
          return payments.retrieve(input);
        },
      };

      expect(await new PaymentSaga({ orders, payments: racing }).reversePayment(order)).toEqual({
        action: 'VOIDED',
      });

      expect(raced).toBeInstanceOf(OrderFencedError);
      expect(await calls(order.orderId)).toEqual([]);
      await giveBack(order);
    });

    test('an authorization this service never heard of (authorize timed out) is voided all the same', async () => {
      const order = await place('pm_auth_timeout');
      const impatient = new PaymentSaga({
        orders,
        payments: createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: 200 }),
      });
      await expect(impatient.authorizePayment(order)).rejects.toThrow();

      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });

      expect((await calls(order.orderId)).at(-1)).toBe(`void succeeded 2000 ${order.orderId}:void`);
      await giveBack(order);
    });

    test('an unfenced order is fenced first, so no late step can authorize it afterwards', async () => {
      const order = await place('pm_card_visa');

      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });

      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ fenced: true });
      await expect(saga.authorizePayment(order)).rejects.toBeInstanceOf(OrderFencedError);
      expect(await calls(order.orderId)).toEqual([]);
      await giveBack(order);
    });

    test('a confirmed order is never reversed: its money is a sale', async () => {
      const order = await place('pm_card_visa');
      await saga.authorizePayment(order);
      await saga.capturePayment(order);

      await expect(saga.reversePayment(order)).rejects.toMatchObject({
        name: 'IllegalTransitionError',
        transition: 'reverse payment of',
        status: 'CONFIRMED',
      });

      expect((await calls(order.orderId)).filter((c) => c.startsWith('refund'))).toEqual([]);
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ fenced: false });
    });

    test.each([
      ['declined', 'pm_card_declined'],
      ['needing no card payment', 'store credit'],
      ['refunded', 'refunded'],
      ['voided with its authorization recorded', 'voided'],
    ])('a payment %s is settled: nothing is asked or recorded again', async (_, kind) => {
      const order = await place(kind === 'pm_card_declined' ? kind : 'pm_card_visa', {
        storeCreditCents: kind === 'store credit' ? 2000 : 0,
      });
      if (kind === 'pm_card_declined') await saga.authorizePayment(order).catch(() => {});
      if (kind === 'refunded' || kind === 'voided') {
        await saga.authorizePayment(order);
        if (kind === 'refunded') {
          await sagaOver(new FencedBeforeRecord(db.sql))
            .capturePayment(order)
            .catch(() => {});
        } else {
          await saga.reversePayment(order);
        }
      }
      await saga.fenceOrder(order);
      const before = await calls(order.orderId);

      expect(await saga.reversePayment(order)).toEqual({ action: 'NONE' });

      expect(await calls(order.orderId)).toEqual(before);
      await saga.compensate({
        ...order,
        steps: ['RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });

    test('a void recorded while the provider had nothing is asked about again, and a late authorization is voided', async () => {
      const order = await place('pm_card_visa');
      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });
      // An authorize call in flight before the fence lands at the provider after that void.
      await createHttpPaymentGateway({ baseUrl: provider.url }).authorize({
        orderId: order.orderId,
        amountCents: 2000,
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        idempotencyKey: `${order.orderId}:authorize`,
      });

      expect(await saga.reversePayment(order)).toEqual({ action: 'VOIDED' });

      expect((await calls(order.orderId)).at(-1)).toBe(`void succeeded 2000 ${order.orderId}:void`);
      await giveBack(order);
    });
  });

  describe('compensation', () => {
    test('fenceOrder answers the status the fence found', async () => {
      const pending = await place('pm_card_visa');
      const confirmed = await place('pm_card_visa', { storeCreditCents: 2000 });
      await saga.confirmOrder(confirmed);

      expect(await saga.fenceOrder(pending)).toEqual({ status: 'PENDING' });
      expect(await saga.fenceOrder(confirmed)).toEqual({ status: 'CONFIRMED' });
      await giveBack(pending);
    });

    test('runs the given steps in the fixed order, whatever order they are given in, and reports each', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 600 });
      await saga.authorizePayment(order);
      const done: CompensationStep[] = [];

      await saga.compensate(
        {
          ...order,
          steps: ['CANCEL_ORDER', 'REFUND_STORE_CREDIT', 'RELEASE_RESERVATIONS', 'REVERSE_PAYMENT'],
          reason: 'PAYMENT_DECLINED',
        },
        (step) => done.push(step),
      );

      // Stock and credit first, the card after (docs/adr/0018).
      expect(done).toEqual([
        'RELEASE_RESERVATIONS',
        'REFUND_STORE_CREDIT',
        'REVERSE_PAYMENT',
        'CANCEL_ORDER',
      ]);
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        cancellationReason: 'PAYMENT_DECLINED',
        payment: { status: 'VOIDED' },
      });
      expect(await orders.getPaymentView(order.orderId)).toMatchObject({ fenced: true });
      const [row] = await db.sql<{ status: string }[]>`
        select status from reservations where order_id = ${order.orderId}`;
      expect(row?.status).toBe('RELEASED');
      expect(await new WalletStore(db.sql).getWallet(order.customerId)).toMatchObject({ balanceCents: 5000 });
    });

    test('only the given steps run', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 600 });
      await saga.authorizePayment(order);

      await saga.compensate({ ...order, steps: ['REVERSE_PAYMENT'], reason: 'test' });

      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'AUTHORIZED',
        payment: { status: 'VOIDED' },
      });
      await saga.compensate({
        ...order,
        steps: ['RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });

    test('a confirmed order is refused before any step runs', async () => {
      const order = await place('pm_card_visa', { storeCreditCents: 2000 });
      await saga.confirmOrder(order);
      const done: CompensationStep[] = [];

      await expect(
        saga.compensate(
          { ...order, steps: ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'], reason: 'test' },
          (step) => done.push(step),
        ),
      ).rejects.toMatchObject({
        name: 'IllegalTransitionError',
        transition: 'compensate',
        status: 'CONFIRMED',
      });

      expect(done).toEqual([]);
      expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
    });

    test('markRequiresAttention parks the order and answers its status', async () => {
      const order = await place('pm_void_fails');
      await saga.authorizePayment(order);
      await saga.fenceOrder(order);
      await expect(saga.reversePayment(order)).rejects.toBeInstanceOf(PaymentProviderTransientError);

      const { status } = await saga.markRequiresAttention({
        ...order,
        compensationId: `${order.orderId}:compensation`,
        steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        error: 'PaymentProviderTransientError',
        cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      });

      expect(status).toBe('REQUIRES_ATTENTION');
      expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'REQUIRES_ATTENTION' });
      await controlProviderFaults(provider.url, 'DELETE');
      await saga.compensate({
        ...order,
        steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'PAYMENT_CAPTURE_FAILED',
      });
    });

    test("paymentState is the provider's state of the order's payment", async () => {
      const order = await place('pm_card_visa');
      const { authorizationId } = await saga.authorizePayment(order);

      expect(await saga.paymentState(order.orderId)).toMatchObject({
        orderId: order.orderId,
        authorizations: [{ authorizationId, status: 'authorized', amountCents: 2000, capturedCents: 0 }],
      });
      await saga.compensate({
        ...order,
        steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
        reason: 'test',
      });
    });
  });
});
