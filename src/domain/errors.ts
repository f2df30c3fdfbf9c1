import type { OrderStatus } from './order.js';

/**
 * Domain errors. Their `name` is part of the contract: Step Functions `Retry`/`Catch` match on it
 * and the HTTP layer maps it to a problem code, so rename one only together with both.
 */
export class OrderNotFoundError extends Error {
  override readonly name = 'OrderNotFoundError';
  constructor(readonly orderId: string) {
    super(`order ${orderId} does not exist`);
  }
}

/** The order is in a state the requested change does not apply to (e.g. confirm a cancelled order). */
export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly orderId: string,
    readonly transition: string,
    readonly status: OrderStatus | null,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(`cannot ${transition} order ${orderId} in status ${status ?? 'unknown'}`);
  }
}

/**
 * Compensation of the order has begun (it is fenced, docs/architecture.md "The compensation
 * fence"): it can no longer be authorized, have a capture recorded or be confirmed. A step that
 * meets it reverses its own late side effect and ends with this error, which no Retry retries.
 */
export class OrderFencedError extends Error {
  override readonly name = 'OrderFencedError';
  constructor(
    readonly orderId: string,
    readonly transition: string,
    readonly status: OrderStatus | null,
    options?: ErrorOptions,
  ) {
    super(
      `cannot ${transition} order ${orderId} in status ${status ?? 'unknown'}: its compensation has begun`,
      options,
    );
  }
}

/** Cancelling was refused because something is still held or charged. */
export class CompensationIncompleteError extends Error {
  override readonly name = 'CompensationIncompleteError';
  constructor(
    readonly orderId: string,
    readonly outstanding: string[],
  ) {
    super(`order ${orderId} cannot be cancelled yet: ${outstanding.join(', ')}`);
  }
}

/** The order's stock reservation was released (e.g. it expired), so it must not be confirmed. */
export class ReservationReleasedError extends Error {
  override readonly name = 'ReservationReleasedError';
  constructor(readonly orderId: string) {
    super(`order ${orderId} lost its stock reservation and cannot be confirmed`);
  }
}
