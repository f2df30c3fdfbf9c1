import type { Sql } from 'postgres';
import { CatalogStore } from '../src/db/catalog.js';
import { WalletStore } from '../src/db/wallets.js';

/** What a new local stack sells; the README's walkthrough uses these SKUs and customers. */
export const DEMO_PRODUCTS = [
  { sku: 'SKU-1', name: 'Espresso beans, 1 kg', priceCents: 2400, currency: 'USD', onHand: 100 },
  { sku: 'SKU-2', name: 'Pour-over kettle', priceCents: 5900, currency: 'USD', onHand: 25 },
  { sku: 'SKU-3', name: 'Burr grinder', priceCents: 14900, currency: 'USD', onHand: 10 },
  { sku: 'SKU-HOT', name: 'Limited edition mug', priceCents: 1500, currency: 'USD', onHand: 10 },
] as const;

export const DEMO_WALLETS = [{ customerId: 'alice', balanceCents: 5000 }] as const;

/** Seeds the demo catalog once: a database that has any product already is left alone. */
export async function seedDemoCatalog(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ seeded: boolean }[]>`select exists (select 1 from products) as seeded`;
  if (row?.seeded) return false;
  const catalog = new CatalogStore(sql);
  for (const { sku, ...product } of DEMO_PRODUCTS) {
    await catalog.upsertProduct(sku, product);
  }
  const wallets = new WalletStore(sql);
  for (const wallet of DEMO_WALLETS) {
    await wallets.setBalance(wallet.customerId, wallet.balanceCents);
  }
  return true;
}
