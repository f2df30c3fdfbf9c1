import { z } from 'zod';
import { PAYMENT_METHODS } from './store.js';

/** Request bodies of the simulated provider. Strict: an unknown field is a client bug worth a 400. */

const id = z.string().trim().min(1).max(128);
const amountCents = z.number().int().positive().max(100_000_000);

export const authorizeRequest = z.strictObject({
  orderId: id,
  amountCents,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD'),
  paymentMethod: z.enum(PAYMENT_METHODS),
});
export type AuthorizeRequest = z.infer<typeof authorizeRequest>;

export const captureRequest = z.strictObject({ amountCents });
export type CaptureRequest = z.infer<typeof captureRequest>;

export const voidRequest = z.strictObject({ orderId: id, authorizationId: id.optional() });
export type VoidRequest = z.infer<typeof voidRequest>;

export const refundRequest = z.strictObject({ orderId: id, authorizationId: id, amountCents });
export type RefundRequest = z.infer<typeof refundRequest>;

export const faultsRequest = z.strictObject({
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  voidFails: z.boolean().optional(),
});

/** Same bounds as the checkout API: 1–255 characters. */
export const idempotencyKeyHeader = z.string().min(1).max(255);
