import postgres, { type Sql } from 'postgres';
import { query, toDatabaseError } from './errors.js';

export interface ProductInput {
  readonly name: string;
  readonly priceCents: number;
  readonly currency: string;
  readonly onHand: number;
}

export interface Product extends ProductInput {
  readonly sku: string;
  readonly reserved: number;
  readonly available: number;
}

/** Setting on-hand stock below what open orders have reserved would oversell them. */
export class OnHandBelowReservedError extends Error {
  override readonly name = 'OnHandBelowReservedError';
  constructor(
    readonly sku: string,
    options?: ErrorOptions,
  ) {
    super(`on-hand stock of ${sku} cannot go below its reserved quantity`, options);
  }
}

/** Products and their inventory, as the admin API manages them. */
export class CatalogStore {
  constructor(private readonly sql: Sql) {}

  /** Creates or replaces a product and sets its on-hand stock; reservations are kept. */
  async upsertProduct(sku: string, input: ProductInput): Promise<Product> {
    try {
      const [row] = await this.sql<ProductRow[]>`
        with product as (
          insert into products (sku, name, price_cents, currency)
          values (${sku}, ${input.name}, ${input.priceCents}, ${input.currency})
          on conflict (sku) do update
          set name = excluded.name,
              price_cents = excluded.price_cents,
              currency = excluded.currency,
              updated_at = now()
          returning sku, name, price_cents, currency
        ),
        stock as (
          insert into inventory (sku, on_hand)
          select sku, ${input.onHand}
          from product
          on conflict (sku) do update
          set on_hand = excluded.on_hand,
              updated_at = now()
          returning sku, on_hand, reserved
        )
        select p.sku, p.name, p.price_cents, p.currency, s.on_hand, s.reserved
        from product p
        join stock s using (sku)
      `;
      return toProduct(row as ProductRow);
    } catch (error) {
      if (
        error instanceof postgres.PostgresError &&
        error.constraint_name === 'inventory_reserved_within_on_hand'
      ) {
        throw new OnHandBelowReservedError(sku, { cause: error });
      }
      throw toDatabaseError(error);
    }
  }

  async getProduct(sku: string): Promise<Product | undefined> {
    const [row] = await query(this.sql<ProductRow[]>`
      select p.sku, p.name, p.price_cents, p.currency, i.on_hand, i.reserved
      from products p
      join inventory i using (sku)
      where p.sku = ${sku}
    `);
    return row ? toProduct(row) : undefined;
  }
}

interface ProductRow {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  on_hand: number;
  reserved: number;
}

function toProduct(row: ProductRow): Product {
  return {
    sku: row.sku,
    name: row.name,
    priceCents: row.price_cents,
    currency: row.currency,
    onHand: row.on_hand,
    reserved: row.reserved,
    available: row.on_hand - row.reserved,
  };
}
