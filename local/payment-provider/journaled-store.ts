import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { InMemoryProviderStore, type ProviderStore } from './store.js';

type Mutation =
  | 'claimIdempotencyKey'
  | 'completeIdempotencyKey'
  | 'releaseIdempotencyKey'
  | 'insertAuthorization'
  | 'updateAuthorization'
  | 'recordAuthorizeAttempt'
  | 'appendLedgerEntry'
  | 'setFaults'
  | 'clearFaults';

interface JournalEntry {
  readonly op: Mutation;
  readonly args: unknown[];
}

/**
 * The in-memory store with a write-ahead journal: every change that took effect is appended to a
 * JSON-lines file before the provider answers, and replayed on start. A real provider outlives
 * the services that call it; this lets the simulated one outlive a crash of the local stack, so
 * orders recovered after a restart still find the authorizations they hold.
 */
export class JournaledProviderStore implements ProviderStore {
  private readonly memory = new InMemoryProviderStore();

  private constructor(private readonly file: string) {}

  /** Opens (replaying) or creates the journal at `file`. */
  static async open(file: string): Promise<JournaledProviderStore> {
    const store = new JournaledProviderStore(file);
    const open = new Map<string, boolean>();
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as JournalEntry;
        const apply = store.memory[entry.op] as (...args: unknown[]) => Promise<unknown>;
        await apply.apply(store.memory, entry.args);
        if (entry.op === 'claimIdempotencyKey') open.set(entry.args[0] as string, true);
        if (entry.op === 'completeIdempotencyKey' || entry.op === 'releaseIdempotencyKey') {
          open.delete(entry.args[0] as string);
        }
      }
    }
    // A request still in progress when the process died was never answered: forget its claim, as
    // for any request that did not complete, so the caller's retry runs again.
    for (const key of open.keys()) await store.releaseIdempotencyKey(key);
    return store;
  }

  private record(op: Mutation, args: unknown[]): void {
    appendFileSync(this.file, `${JSON.stringify({ op, args })}\n`);
  }

  async claimIdempotencyKey(...args: Parameters<ProviderStore['claimIdempotencyKey']>) {
    const existing = await this.memory.claimIdempotencyKey(...args);
    if (!existing) this.record('claimIdempotencyKey', args);
    return existing;
  }

  async completeIdempotencyKey(...args: Parameters<ProviderStore['completeIdempotencyKey']>) {
    await this.memory.completeIdempotencyKey(...args);
    this.record('completeIdempotencyKey', args);
  }

  async releaseIdempotencyKey(...args: Parameters<ProviderStore['releaseIdempotencyKey']>) {
    await this.memory.releaseIdempotencyKey(...args);
    this.record('releaseIdempotencyKey', args);
  }

  async insertAuthorization(...args: Parameters<ProviderStore['insertAuthorization']>) {
    await this.memory.insertAuthorization(...args);
    this.record('insertAuthorization', args);
  }

  getAuthorization(...args: Parameters<ProviderStore['getAuthorization']>) {
    return this.memory.getAuthorization(...args);
  }

  listAuthorizationsForOrder(...args: Parameters<ProviderStore['listAuthorizationsForOrder']>) {
    return this.memory.listAuthorizationsForOrder(...args);
  }

  async updateAuthorization(...args: Parameters<ProviderStore['updateAuthorization']>) {
    const updated = await this.memory.updateAuthorization(...args);
    if (updated) this.record('updateAuthorization', args);
    return updated;
  }

  async recordAuthorizeAttempt(...args: Parameters<ProviderStore['recordAuthorizeAttempt']>) {
    const count = await this.memory.recordAuthorizeAttempt(...args);
    this.record('recordAuthorizeAttempt', args);
    return count;
  }

  async appendLedgerEntry(...args: Parameters<ProviderStore['appendLedgerEntry']>) {
    await this.memory.appendLedgerEntry(...args);
    this.record('appendLedgerEntry', args);
  }

  listLedgerEntries() {
    return this.memory.listLedgerEntries();
  }

  getFaults() {
    return this.memory.getFaults();
  }

  async setFaults(...args: Parameters<ProviderStore['setFaults']>) {
    const faults = await this.memory.setFaults(...args);
    this.record('setFaults', args);
    return faults;
  }

  async clearFaults() {
    const faults = await this.memory.clearFaults();
    this.record('clearFaults', []);
    return faults;
  }
}
