import * as z from '../../src/runtime/schema.js';
import { PAYMENT_METHODS } from './store.js';

/** Request bodies of the simulated provider. Strict: an unknown field is a client bug worth a 400. */

const id = z.string().check(z.trim(), z.minLength(1), z.maxLength(128));
const amountCents = z.number().check(z.int(), z.positive(), z.maximum(100_000_000));

export const authorizeRequest = z.strictObject({
  orderId: id,
  amountCents,
  currency: z.string().check(z.regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')),
  paymentMethod: z.enum(PAYMENT_METHODS),
});
export type AuthorizeRequest = z.infer<typeof authorizeRequest>;

export const captureRequest = z.strictObject({ amountCents });
export type CaptureRequest = z.infer<typeof captureRequest>;

export const voidRequest = z.strictObject({ orderId: id, authorizationId: z.optional(id) });
export type VoidRequest = z.infer<typeof voidRequest>;

export const refundRequest = z.strictObject({ orderId: id, authorizationId: id, amountCents });
export type RefundRequest = z.infer<typeof refundRequest>;

export const faultsRequest = z.strictObject({
  latencyMs: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(120_000))),
  errorRate: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
  voidFails: z.optional(z.boolean()),
});

/** Same bounds as the checkout API: 1–255 characters. */
export const idempotencyKeyHeader = z.string().check(z.minLength(1), z.maxLength(255));
