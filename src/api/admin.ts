import type { CatalogStore } from '../db/catalog.js';
import type { CompensationStore } from '../db/compensations.js';
import type { WalletStore } from '../db/wallets.js';
import { jsonResponse, parseWith, type Route, readJsonBody } from './http.js';
import { requireAdmin } from './identity.js';
import { ProblemError } from './problems.js';
import {
  compensationQuerySchema,
  customerIdSchema,
  productInputSchema,
  SKU_PATTERN,
  skuSchema,
  walletInputSchema,
} from './schemas.js';
import { compensationListingView, productView, walletView } from './views.js';

/**
 * Admin routes (IAM-authorised in AWS). PUTs are idempotent by meaning (upsert a product, set a
 * balance), so a retried PUT needs no idempotency record: applying it twice leaves the same state.
 */
export interface AdminDependencies {
  readonly catalog: Pick<CatalogStore, 'upsertProduct' | 'getProduct'>;
  readonly wallets: Pick<WalletStore, 'setBalance' | 'getWallet'>;
  readonly compensations: Pick<CompensationStore, 'list'>;
}

/** `PUT /v1/admin/products/{sku}`: create or replace a product and set its on-hand stock. */
export function createPutProductRoute(dependencies: AdminDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const sku = parseWith(skuSchema, event.pathParameters?.sku ?? '', '/pathParameters/sku');
    const input = parseWith(productInputSchema, readJsonBody(event));
    // OnHandBelowReservedError travels to the problem mapping: 409 ON_HAND_BELOW_RESERVED.
    const product = await dependencies.catalog.upsertProduct(sku, input);
    return jsonResponse(200, productView(product));
  };
}

/** `GET /v1/admin/products/{sku}`. A SKU that cannot exist is simply not found. */
export function createGetProductRoute(dependencies: AdminDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const sku = event.pathParameters?.sku;
    const product = sku && SKU_PATTERN.test(sku) ? await dependencies.catalog.getProduct(sku) : undefined;
    if (!product) throw new ProblemError('PRODUCT_NOT_FOUND', 'No product with this SKU.');
    return jsonResponse(200, productView(product));
  };
}

/** `PUT /v1/admin/wallets/{customerId}`: set the store-credit balance (recorded in the ledger). */
export function createPutWalletRoute(dependencies: AdminDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const customerId = parseWith(
      customerIdSchema,
      event.pathParameters?.customerId ?? '',
      '/pathParameters/customerId',
    );
    const { balanceCents } = parseWith(walletInputSchema, readJsonBody(event));
    const wallet = await dependencies.wallets.setBalance(customerId, balanceCents);
    return jsonResponse(200, walletView(wallet));
  };
}

/** `GET /v1/admin/wallets/{customerId}`. */
export function createGetWalletRoute(dependencies: AdminDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const customerId = event.pathParameters?.customerId;
    const wallet =
      customerId && customerIdSchema.safeParse(customerId).success
        ? await dependencies.wallets.getWallet(customerId)
        : undefined;
    if (!wallet) throw new ProblemError('WALLET_NOT_FOUND', 'No wallet for this customer.');
    return jsonResponse(200, walletView(wallet));
  };
}

/**
 * `GET /v1/admin/compensations?status=&step=&error=&olderThanMinutes=&customerId=&limit=`: the audit
 * view of the compensation DLQ, unresolved first, then newest first; each with its customer and what
 * they are still owed.
 */
export function createListCompensationsRoute(dependencies: AdminDependencies): Route {
  return async ({ event }) => {
    requireAdmin(event);
    const query = parseWith(compensationQuerySchema, event.queryStringParameters ?? {}, '/query');
    const filter = Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined));
    const items = await dependencies.compensations.list(filter);
    return jsonResponse(200, { items: items.map(compensationListingView) });
  };
}
