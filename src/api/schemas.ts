import { COMPENSATION_STATUSES } from '../db/compensations.js';
import * as z from '../runtime/schema.js';
import { COMPENSATION_STEPS } from '../saga/steps.js';

/**
 * Request schemas of the HTTP API (docs/openapi.yaml). Objects are strict: an unknown member is a
 * validation error rather than silently dropped, so a client's typo never goes unnoticed.
 * The database re-checks what it owns (store credit ≤ total, stock, balances).
 */

/** ISO 4217 codes the service prices in; all have two decimal places, so amounts are cents. */
export const SUPPORTED_CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD'] as const;
export type Currency = (typeof SUPPORTED_CURRENCIES)[number];

/** The same pattern as the `products_sku_format` constraint. */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PAYMENT_METHOD_PATTERN = /^pm_[a-z0-9_]+$/;
/** Idempotency keys: 1-255 printable ASCII characters (uuids are the usual choice). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
/** Canonical uuid text; anything else cannot name an order. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** No control characters (NUL included: PostgreSQL text cannot hold it) and no lone surrogates. */
const PRINTABLE_TEXT = /^[^\p{Cc}\p{Cs}]*$/u;

export const MAX_CART_LINES = 50;
export const MAX_LINE_QUANTITY = 100;
export const MAX_PRICE_CENTS = 1_000_000_000;
export const MAX_ON_HAND = 10_000_000;
export const MAX_BALANCE_CENTS = 1_000_000_000;

export const skuSchema = z
  .string()
  .check(z.regex(SKU_PATTERN, 'must be 1-64 letters, digits, "_", "." or "-"'));
const currencySchema = z.enum(SUPPORTED_CURRENCIES, {
  error: `must be one of ${SUPPORTED_CURRENCIES.join(', ')}`,
});

/** A whole number of at least `min` and at most `max`. */
const boundedInt = (min: number, max?: number) =>
  max === undefined ? z.int().check(z.minimum(min)) : z.int().check(z.minimum(min), z.maximum(max));

export const cartLineSchema = z.strictObject({
  sku: skuSchema,
  quantity: boundedInt(1, MAX_LINE_QUANTITY),
});

/** `POST /v1/checkout` body. Prices are never taken from the client. */
export const checkoutRequestSchema = z.strictObject({
  items: z.array(cartLineSchema).check(z.minLength(1), z.maxLength(MAX_CART_LINES)),
  currency: currencySchema,
  paymentMethod: z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(64),
      z.regex(PAYMENT_METHOD_PATTERN, 'must look like pm_<lowercase letters, digits, _>'),
    ),
  storeCreditCents: z._default(boundedInt(0), 0),
});
export type CheckoutRequest = z.output<typeof checkoutRequestSchema>;

/** `PUT /v1/admin/products/{sku}` body. */
export const productInputSchema = z.strictObject({
  name: z
    .string()
    .check(z.minLength(1), z.maxLength(200), z.regex(PRINTABLE_TEXT, 'must not contain control characters')),
  priceCents: boundedInt(0, MAX_PRICE_CENTS),
  currency: currencySchema,
  onHand: boundedInt(0, MAX_ON_HAND),
});

/** `PUT /v1/admin/wallets/{customerId}` body. */
export const walletInputSchema = z.strictObject({
  balanceCents: boundedInt(0, MAX_BALANCE_CENTS),
});

/** The `{customerId}` path parameter of the wallet routes (the wallets table allows 1-128 chars). */
export const customerIdSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[^\p{Cc}\p{Cs}\s]+$/u, 'must not contain whitespace or control characters'),
  );

/**
 * `GET /v1/admin/compensations` query: `status` (case-insensitive, or UNRESOLVED for every status
 * but RESOLVED), `step` still to do, `error` text, `olderThanMinutes`, `customerId`, `limit` 1-100.
 */
// Unknown query parameters are ignored (cache busters and tracing tags are common), unlike body members.
export const compensationQuerySchema = z.object({
  status: z.optional(
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((value) => value.toUpperCase()),
      ),
      z.enum([...COMPENSATION_STATUSES, 'UNRESOLVED'], {
        error: `must be one of ${[...COMPENSATION_STATUSES, 'UNRESOLVED'].join(', ')}`,
      }),
    ),
  ),
  step: z.optional(
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((value) => value.toUpperCase()),
      ),
      z.enum(COMPENSATION_STEPS, { error: `must be one of ${COMPENSATION_STEPS.join(', ')}` }),
    ),
  ),
  error: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  olderThanMinutes: z.optional(
    z.pipe(
      z.pipe(
        z.string().check(z.regex(/^\d{1,6}$/, 'must be an integer from 0 to 525600')),
        z.transform(Number),
      ),
      boundedInt(0, 525_600),
    ),
  ),
  customerId: z.optional(customerIdSchema),
  limit: z.optional(
    z.pipe(
      z.pipe(z.string().check(z.regex(/^\d{1,3}$/, 'must be an integer from 1 to 100')), z.transform(Number)),
      boundedInt(1, 100),
    ),
  ),
});
