import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { query } from './errors.js';

export interface Wallet {
  readonly customerId: string;
  readonly balanceCents: number;
}

/** Store-credit wallets. Balances only move through ledger rows, so balance = sum of the ledger. */
export class WalletStore {
  constructor(private readonly sql: Sql) {}

  /** Sets the balance by recording the difference as an adjustment in the ledger. */
  async setBalance(customerId: string, balanceCents: number): Promise<Wallet> {
    await query(this.sql`
      select set_wallet_balance(${customerId}, ${balanceCents}::bigint, ${`adjustment:${randomUUID()}`})
    `);
    return { customerId, balanceCents };
  }

  async getWallet(customerId: string): Promise<Wallet | undefined> {
    const [row] = await query(this.sql<{ balance_cents: number }[]>`
      select balance_cents
      from store_credit_wallets
      where customer_id = ${customerId}
    `);
    return row ? { customerId, balanceCents: row.balance_cents } : undefined;
  }
}
