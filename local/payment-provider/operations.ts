import { randomUUID } from 'node:crypto';
import { type ApiResponse, json, problem } from './responses.js';
import type { AuthorizeRequest, CaptureRequest, RefundRequest, VoidRequest } from './schemas.js';
import type {
  Authorization,
  FaultState,
  LedgerEntry,
  LedgerOperation,
  LedgerOutcome,
  PaymentMethod,
  ProviderStore,
} from './store.js';

/**
 * The provider's business rules (docs/architecture.md, "The parts"), one function per operation. Idempotency, fault
 * injection and HTTP plumbing live in `handler.ts`; these functions only decide an outcome.
 *
 * The ledger records every state change (`succeeded`), every decline and every failed attempt;
 * a call that changes nothing (void with nothing to void, or of an already voided authorization)
 * leaves no entry.
 */

/**
 * What an operation decided. `final` answers are remembered under the idempotency key and
 * replayed; `retryable` ones (503, lost races) are not, so a retry with the same key runs again;
 * `hold` never answers (pm_auth_timeout).
 */
export type OperationResult =
  | { kind: 'final'; response: ApiResponse }
  | { kind: 'retryable'; response: ApiResponse }
  | { kind: 'hold' };

export interface OperationContext {
  store: ProviderStore;
  faults: FaultState;
  idempotencyKey: string;
  now: () => Date;
}

const final = (response: ApiResponse): OperationResult => ({ kind: 'final', response });
const transient = (detail: string): OperationResult => ({
  kind: 'retryable',
  response: problem(503, 'PROVIDER_UNAVAILABLE', detail),
});

/** Methods whose authorizations can never be captured. */
const captureFails = new Set<PaymentMethod>(['pm_capture_fails', 'pm_void_fails']);

/** How many authorize attempts of a `pm_card_flaky` order fail before one succeeds. */
const FLAKY_FAILURES = 2;

export async function authorize(ctx: OperationContext, input: AuthorizeRequest): Promise<OperationResult> {
  const record = ledger(ctx, 'authorize', input.orderId, input.amountCents);

  if (input.paymentMethod === 'pm_card_declined') {
    await record('declined', null);
    return final(json(402, { outcome: 'declined', reason: 'card_declined' }));
  }
  if (input.paymentMethod === 'pm_card_flaky') {
    const attempt = await ctx.store.recordAuthorizeAttempt(input.orderId);
    if (attempt <= FLAKY_FAILURES) {
      await record('failed', null);
      return transient(`simulated transient failure (pm_card_flaky attempt ${attempt})`);
    }
  }

  const authorization: Authorization = {
    authorizationId: `auth_${randomUUID()}`,
    orderId: input.orderId,
    amountCents: input.amountCents,
    currency: input.currency,
    paymentMethod: input.paymentMethod,
    status: 'authorized',
    capturedCents: 0,
    refundedCents: 0,
    faultGeneration: ctx.faults.generation,
    createdAt: ctx.now().toISOString(),
  };
  await ctx.store.insertAuthorization(authorization);
  await record('succeeded', authorization.authorizationId);

  // The card network authorized it, but the answer is lost: the client times out and the saga
  // must void by order id. That is why the authorization is recorded before holding.
  if (input.paymentMethod === 'pm_auth_timeout') return { kind: 'hold' };

  return final(
    json(201, {
      outcome: 'authorized',
      authorizationId: authorization.authorizationId,
      amountCents: authorization.amountCents,
      currency: authorization.currency,
    }),
  );
}

export async function capture(
  ctx: OperationContext,
  authorizationId: string,
  input: CaptureRequest,
): Promise<OperationResult> {
  const authorization = await ctx.store.getAuthorization(authorizationId);
  // No ledger entry: there is no order to attach it to.
  if (!authorization) return final(notFound(authorizationId));

  const record = ledger(ctx, 'capture', authorization.orderId, input.amountCents);
  const refuse = async (response: ApiResponse) => {
    await record('failed', authorizationId);
    return final(response);
  };

  if (authorization.status === 'voided') {
    return refuse(problem(409, 'AUTHORIZATION_VOIDED', `authorization ${authorizationId} was voided`));
  }
  if (authorization.status === 'captured') {
    return refuse(problem(409, 'ALREADY_CAPTURED', `authorization ${authorizationId} is already captured`));
  }
  if (input.amountCents > authorization.amountCents) {
    return refuse(
      problem(
        422,
        'AMOUNT_EXCEEDS_AUTHORIZATION',
        `cannot capture ${input.amountCents} of an authorization for ${authorization.amountCents}`,
      ),
    );
  }
  if (captureFails.has(authorization.paymentMethod)) {
    await record('failed', authorizationId);
    return transient(`simulated capture failure (${authorization.paymentMethod})`);
  }

  const captureId = `cap_${randomUUID()}`;
  const captured = await ctx.store.updateAuthorization(
    authorizationId,
    { status: 'authorized' },
    { status: 'captured', capturedCents: input.amountCents, captureId },
  );
  if (!captured) {
    await record('failed', authorizationId);
    return conflict(authorizationId);
  }

  await record('succeeded', authorizationId);
  return final(json(201, { captureId, authorizationId, amountCents: input.amountCents }));
}

/**
 * Voids the given authorization, or every open authorization of the order when none is given
 * (after an authorize timeout the saga does not know the id). All or nothing: if one of them
 * cannot be voided now, none is.
 */
export async function voidAuthorization(ctx: OperationContext, input: VoidRequest): Promise<OperationResult> {
  let targets: Authorization[];
  if (input.authorizationId) {
    const authorization = await ctx.store.getAuthorization(input.authorizationId);
    if (!authorization || authorization.orderId !== input.orderId) {
      return final(notFound(input.authorizationId, input.orderId));
    }
    targets = [authorization];
  } else {
    targets = await ctx.store.listAuthorizationsForOrder(input.orderId);
  }

  const open = targets.filter((a) => a.status === 'authorized');
  const failing = ctx.faults.voidFails ? open : open.filter((a) => voidFailsFor(ctx, a));
  if (ctx.faults.voidFails || failing.length > 0) {
    const attempted = failing.length > 0 ? failing : [undefined];
    for (const a of attempted) {
      await ledger(ctx, 'void', input.orderId, a?.amountCents ?? 0)('failed', a?.authorizationId ?? null);
    }
    return transient(`simulated void failure for order ${input.orderId}`);
  }

  if (open.length === 0) {
    const captured = targets.find((a) => a.status === 'captured');
    if (captured) {
      await ledger(ctx, 'void', input.orderId, captured.amountCents)('failed', captured.authorizationId);
      return final(
        problem(
          409,
          'AUTHORIZATION_CAPTURED',
          `authorization ${captured.authorizationId} is captured; refund it`,
        ),
      );
    }
    // Nothing (left) to void: already voided, or the order never got an authorization.
    return final(json(200, { voided: targets.length > 0, authorizationIds: [] }));
  }

  const voided: string[] = [];
  for (const a of open) {
    const updated = await ctx.store.updateAuthorization(
      a.authorizationId,
      { status: 'authorized' },
      { status: 'voided' },
    );
    if (!updated) return conflict(a.authorizationId);
    await ledger(ctx, 'void', input.orderId, a.amountCents)('succeeded', a.authorizationId);
    voided.push(a.authorizationId);
  }
  return final(json(200, { voided: true, authorizationIds: voided }));
}

export async function refund(ctx: OperationContext, input: RefundRequest): Promise<OperationResult> {
  const authorization = await ctx.store.getAuthorization(input.authorizationId);
  if (!authorization || authorization.orderId !== input.orderId) {
    return final(notFound(input.authorizationId, input.orderId));
  }
  const record = ledger(ctx, 'refund', input.orderId, input.amountCents);
  const refuse = async (response: ApiResponse) => {
    await record('failed', input.authorizationId);
    return final(response);
  };

  if (authorization.status !== 'captured') {
    return refuse(problem(409, 'NOT_CAPTURED', `authorization ${input.authorizationId} is not captured`));
  }
  const refundable = authorization.capturedCents - authorization.refundedCents;
  if (input.amountCents > refundable) {
    return refuse(
      problem(
        422,
        'REFUND_EXCEEDS_CAPTURE',
        `cannot refund ${input.amountCents}; ${refundable} is refundable`,
      ),
    );
  }
  const updated = await ctx.store.updateAuthorization(
    input.authorizationId,
    { status: 'captured', refundedCents: authorization.refundedCents },
    { refundedCents: authorization.refundedCents + input.amountCents },
  );
  if (!updated) {
    await record('failed', input.authorizationId);
    return conflict(input.authorizationId);
  }

  await record('succeeded', input.authorizationId);
  return final(
    json(201, {
      refundId: `ref_${randomUUID()}`,
      authorizationId: input.authorizationId,
      amountCents: input.amountCents,
    }),
  );
}

/**
 * The order's payments as the provider holds them (like Stripe's retrieve): every authorization
 * with its status and the amounts captured and refunded. Read-only, so it needs no idempotency key;
 * the saga's compensation decides from this answer rather than from its own last record.
 */
export async function retrieve(ctx: Pick<OperationContext, 'store'>, orderId: string): Promise<ApiResponse> {
  const authorizations = await ctx.store.listAuthorizationsForOrder(orderId);
  return json(200, {
    orderId,
    authorizations: authorizations.map((a) => ({
      authorizationId: a.authorizationId,
      status: a.status,
      amountCents: a.amountCents,
      currency: a.currency,
      capturedCents: a.capturedCents,
      refundedCents: a.refundedCents,
      captureId: a.captureId ?? null,
    })),
  });
}

/**
 * `pm_void_fails` fails only until faults are cleared *after* the authorization was created, so
 * a clear fixes existing orders while a later `pm_void_fails` order fails again.
 */
function voidFailsFor(ctx: OperationContext, authorization: Authorization): boolean {
  return (
    authorization.paymentMethod === 'pm_void_fails' && authorization.faultGeneration === ctx.faults.generation
  );
}

/** Returns a recorder for ledger entries of one operation on one order. */
export function ledger(
  ctx: OperationContext,
  operation: LedgerOperation,
  orderId: string,
  amountCents: number,
) {
  return (outcome: LedgerOutcome, authorizationId: string | null): Promise<void> => {
    const entry: LedgerEntry = {
      operation,
      orderId,
      authorizationId,
      amountCents,
      outcome,
      idempotencyKey: ctx.idempotencyKey,
      at: ctx.now().toISOString(),
    };
    return ctx.store.appendLedgerEntry(entry);
  };
}

function notFound(authorizationId: string, orderId?: string): ApiResponse {
  const scope = orderId ? ` for order ${orderId}` : '';
  return problem(404, 'AUTHORIZATION_NOT_FOUND', `no authorization ${authorizationId}${scope}`);
}

/**
 * A concurrent request with another key changed the authorization between read and write.
 * Not remembered: the same request may well succeed or get a definite answer next time.
 */
function conflict(authorizationId: string): OperationResult {
  return {
    kind: 'retryable',
    response: problem(
      409,
      'AUTHORIZATION_CHANGED',
      `authorization ${authorizationId} changed meanwhile; retry`,
    ),
  };
}
