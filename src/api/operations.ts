import type { CompensationStore } from '../db/compensations.js';
import type { OrderHistoryStore } from '../db/order-history.js';
import type { OrderStore } from '../db/orders.js';
import { compensationMessageOf } from '../saga/compensation-message.js';
import type { CompensationQueue } from '../saga/compensation-queue.js';
import type { SagaInspector } from '../saga/saga-starter.js';
import { jsonResponse, type Route } from './http.js';
import { requireAdmin } from './identity.js';
import { ProblemError } from './problems.js';
import { UUID_PATTERN } from './schemas.js';
import { adminOrderView } from './views.js';

/**
 * Operator routes (IAM-authorised in AWS, like every admin route): one order's whole story, and
 * queueing a failed compensation again. `npm run ops` is their client (docs/runbooks).
 */

export interface AdminOrderDependencies {
  readonly orders: Pick<OrderStore, 'getOrder'>;
  readonly history: Pick<OrderHistoryStore, 'events' | 'holdings'>;
  readonly compensations: Pick<CompensationStore, 'findByOrder'>;
  /** DescribeExecution of the execution named by the order id. */
  readonly sagas: SagaInspector;
}

export interface CompensationRetryDependencies {
  readonly compensations: Pick<CompensationStore, 'get' | 'markRequeued'>;
  readonly queue: CompensationQueue;
}

/** `GET /v1/admin/orders/{orderId}`: any customer's order with its timeline, compensation and saga. */
export function createGetAdminOrderRoute(dependencies: AdminOrderDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const orderId = event.pathParameters?.orderId;
    const order =
      orderId && UUID_PATTERN.test(orderId) ? await dependencies.orders.getOrder(orderId) : undefined;
    if (!order) throw new ProblemError('ORDER_NOT_FOUND', 'No such order.');
    const [events, compensation, owed, sagaState] = await Promise.all([
      dependencies.history.events(order.orderId),
      dependencies.compensations.findByOrder(order.orderId),
      dependencies.history.holdings(order.orderId),
      sagaStatusOf(dependencies.sagas, order.orderId),
    ]);
    return jsonResponse(200, adminOrderView({ order, events, compensation, owed, sagaState }));
  };
}

/**
 * `POST /v1/admin/compensations/{compensationId}/retry`: queues the compensation again with what
 * the worker needs (from its audit row). The message is sent before the row says PENDING, so a
 * failure in between leaves a queued message behind a FAILED row, never a PENDING row with nothing
 * queued. A copy still in the DLQ may be redriven later: the worker is idempotent on
 * compensationId, so it changes nothing twice. The order's timeline records the retry with the
 * IAM principal that asked for it, with the status change (docs/adr/0024).
 */
export function createRetryCompensationRoute(dependencies: CompensationRetryDependencies): Route {
  return async ({ event, correlationId }) => {
    const requestedBy = requireAdmin(event);
    const compensationId = event.pathParameters?.compensationId ?? '';
    const compensation =
      compensationId.length > 0 && compensationId.length <= 200
        ? await dependencies.compensations.get(compensationId)
        : undefined;
    if (!compensation) throw new ProblemError('COMPENSATION_NOT_FOUND', 'No compensation with this id.');
    if (compensation.status === 'RESOLVED') {
      throw new ProblemError(
        'COMPENSATION_ALREADY_RESOLVED',
        `The compensation was resolved at ${compensation.resolvedAt}; there is nothing to retry.`,
      );
    }
    try {
      await dependencies.queue.send(compensationMessageOf(compensation));
    } catch (error) {
      throw new ProblemError(
        'SERVICE_UNAVAILABLE',
        'The compensation queue is unavailable. Retry later.',
        {},
        { cause: error },
      );
    }
    const queued = await dependencies.compensations.markRequeued(compensationId, {
      requestedBy,
      correlationId,
    });
    // Resolved by the worker between the read above and now: the message sent changes nothing.
    const status = queued.outcome === 'APPLIED' ? queued.status : 'RESOLVED';
    if (status === 'RESOLVED') {
      throw new ProblemError('COMPENSATION_ALREADY_RESOLVED', 'The compensation was resolved meanwhile.');
    }
    return jsonResponse(202, { compensationId, status });
  };
}

async function sagaStatusOf(sagas: SagaInspector, orderId: string) {
  try {
    return await sagas.executionState(orderId);
  } catch (error) {
    throw new ProblemError(
      'SERVICE_UNAVAILABLE',
      'Step Functions is unavailable. Retry later.',
      {},
      { cause: error },
    );
  }
}
