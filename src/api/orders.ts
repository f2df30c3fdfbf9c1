import type { OrderStore } from '../db/orders.js';
import { type CustomerLimiter, withCustomerLimits } from './customer-limits.js';
import { jsonResponse, type Route } from './http.js';
import { requireCustomer } from './identity.js';
import { ProblemError } from './problems.js';
import { UUID_PATTERN } from './schemas.js';
import { orderView } from './views.js';

export interface OrderReadDependencies {
  readonly orders: Pick<OrderStore, 'getOrder'>;
  /** Per-customer limits, spent before the order is read. @default - no limits */
  readonly limiter?: Pick<CustomerLimiter, 'consume'>;
}

/**
 * `GET /v1/orders/{orderId}`. Another customer's order is answered exactly like a missing one
 * (404, same body), and so is an id that is not a uuid: the response never tells a caller
 * whether an order id exists.
 */
export function createGetOrderRoute(dependencies: OrderReadDependencies): Route {
  const route: Route = async ({ event }) => {
    const customerId = requireCustomer(event);
    const orderId = event.pathParameters?.orderId;
    const order =
      orderId && UUID_PATTERN.test(orderId) ? await dependencies.orders.getOrder(orderId) : undefined;
    if (!order || order.customerId !== customerId) {
      throw new ProblemError('ORDER_NOT_FOUND', 'No such order.');
    }
    return jsonResponse(200, orderView(order));
  };
  return withCustomerLimits(route, dependencies.limiter, 'request');
}
