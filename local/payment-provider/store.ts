/**
 * State of the simulated payment provider behind a small async interface, so the same request
 * logic can run on the in-memory store locally and on a durable store (e.g. DynamoDB) when the
 * provider is deployed as a Lambda function URL.
 */

/** The test payment methods (README "Local mode"), like a card network's test cards. */
export const PAYMENT_METHODS = [
  'pm_card_visa',
  'pm_card_declined',
  'pm_card_flaky',
  'pm_auth_timeout',
  'pm_capture_fails',
  'pm_void_fails',
] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export type AuthorizationStatus = 'authorized' | 'captured' | 'voided';

export interface Authorization {
  authorizationId: string;
  orderId: string;
  amountCents: number;
  currency: string;
  paymentMethod: PaymentMethod;
  status: AuthorizationStatus;
  capturedCents: number;
  refundedCents: number;
  /** Set by the capture; absent on authorizations that were never captured. */
  captureId?: string;
  /** Fault generation at creation: `pm_void_fails` only fails while no clear happened since. */
  faultGeneration: number;
  createdAt: string;
}

export type LedgerOperation = 'authorize' | 'capture' | 'void' | 'refund';
export type LedgerOutcome = 'succeeded' | 'declined' | 'failed';

/** One line of `GET /ledger`. */
export interface LedgerEntry {
  operation: LedgerOperation;
  orderId: string;
  authorizationId: string | null;
  amountCents: number;
  outcome: LedgerOutcome;
  idempotencyKey: string;
  at: string;
}

/** Injected faults. `generation` grows on every clear; it is internal, not part of the API. */
export interface FaultState {
  latencyMs: number;
  errorRate: number;
  voidFails: boolean;
  generation: number;
}

export type FaultPatch = Partial<Pick<FaultState, 'latencyMs' | 'errorRate' | 'voidFails'>>;

/** What an idempotency key remembers: an HTTP answer, or "this request is held open". */
export type StoredResponse =
  | { kind: 'response'; status: number; contentType: string; body: unknown }
  | { kind: 'hold' };

export type IdempotencyRecord =
  | { fingerprint: string; state: 'in-progress' }
  | { fingerprint: string; state: 'completed'; response: StoredResponse };

/** Fields a conditional update may check and change. */
type MutableAuthorization = Partial<
  Pick<Authorization, 'status' | 'capturedCents' | 'refundedCents' | 'captureId'>
>;

export interface ProviderStore {
  /**
   * Atomically claims `key` for a request with `fingerprint`. Returns undefined when claimed,
   * otherwise the existing record (in progress or completed) and changes nothing.
   */
  claimIdempotencyKey(key: string, fingerprint: string): Promise<IdempotencyRecord | undefined>;
  completeIdempotencyKey(key: string, response: StoredResponse): Promise<void>;
  /** Forgets a claim, so a retry with the same key runs again (transient failures are not stored). */
  releaseIdempotencyKey(key: string): Promise<void>;

  insertAuthorization(authorization: Authorization): Promise<void>;
  getAuthorization(authorizationId: string): Promise<Authorization | undefined>;
  listAuthorizationsForOrder(orderId: string): Promise<Authorization[]>;
  /**
   * Compare-and-set: applies `change` only if every field in `expected` still matches.
   * Returns the updated authorization, or undefined when it changed meanwhile.
   */
  updateAuthorization(
    authorizationId: string,
    expected: MutableAuthorization,
    change: MutableAuthorization,
  ): Promise<Authorization | undefined>;

  /** Counts authorize attempts per order (for `pm_card_flaky`) and returns the new count. */
  recordAuthorizeAttempt(orderId: string): Promise<number>;

  appendLedgerEntry(entry: LedgerEntry): Promise<void>;
  listLedgerEntries(): Promise<LedgerEntry[]>;

  getFaults(): Promise<FaultState>;
  setFaults(patch: FaultPatch): Promise<FaultState>;
  /** Clears every fault, including `pm_void_fails` on authorizations created before now. */
  clearFaults(): Promise<FaultState>;
}

/** The local store: plain maps. Every method completes without yielding, so each is atomic. */
export class InMemoryProviderStore implements ProviderStore {
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly authorizations = new Map<string, Authorization>();
  private readonly authorizeAttempts = new Map<string, number>();
  private readonly ledger: LedgerEntry[] = [];
  private faults: FaultState = { latencyMs: 0, errorRate: 0, voidFails: false, generation: 0 };

  async claimIdempotencyKey(key: string, fingerprint: string): Promise<IdempotencyRecord | undefined> {
    const existing = this.idempotency.get(key);
    if (existing) return existing;
    this.idempotency.set(key, { fingerprint, state: 'in-progress' });
    return undefined;
  }

  async completeIdempotencyKey(key: string, response: StoredResponse): Promise<void> {
    const record = this.idempotency.get(key);
    if (record) this.idempotency.set(key, { fingerprint: record.fingerprint, state: 'completed', response });
  }

  async releaseIdempotencyKey(key: string): Promise<void> {
    this.idempotency.delete(key);
  }

  async insertAuthorization(authorization: Authorization): Promise<void> {
    this.authorizations.set(authorization.authorizationId, { ...authorization });
  }

  async getAuthorization(authorizationId: string): Promise<Authorization | undefined> {
    const found = this.authorizations.get(authorizationId);
    return found && { ...found };
  }

  async listAuthorizationsForOrder(orderId: string): Promise<Authorization[]> {
    return [...this.authorizations.values()].filter((a) => a.orderId === orderId).map((a) => ({ ...a }));
  }

  async updateAuthorization(
    authorizationId: string,
    expected: MutableAuthorization,
    change: MutableAuthorization,
  ): Promise<Authorization | undefined> {
    const current = this.authorizations.get(authorizationId);
    if (!current) return undefined;
    const matches = Object.entries(expected).every(
      ([field, value]) => current[field as keyof Authorization] === value,
    );
    if (!matches) return undefined;
    const updated = { ...current, ...change };
    this.authorizations.set(authorizationId, updated);
    return { ...updated };
  }

  async recordAuthorizeAttempt(orderId: string): Promise<number> {
    const count = (this.authorizeAttempts.get(orderId) ?? 0) + 1;
    this.authorizeAttempts.set(orderId, count);
    return count;
  }

  async appendLedgerEntry(entry: LedgerEntry): Promise<void> {
    this.ledger.push({ ...entry });
  }

  async listLedgerEntries(): Promise<LedgerEntry[]> {
    return this.ledger.map((entry) => ({ ...entry }));
  }

  async getFaults(): Promise<FaultState> {
    return { ...this.faults };
  }

  async setFaults(patch: FaultPatch): Promise<FaultState> {
    const given = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
    this.faults = { ...this.faults, ...given };
    return { ...this.faults };
  }

  async clearFaults(): Promise<FaultState> {
    this.faults = { latencyMs: 0, errorRate: 0, voidFails: false, generation: this.faults.generation + 1 };
    return { ...this.faults };
  }
}
