/**
 * Every refusal of the PL/pgSQL order functions (docs/testing.md, "The order functions' guards"),
 * each with the edit that removes it. An edit is applied to the function's live definition
 * (`pg_get_functiondef` after every migration ran), so a later migration that re-creates a function
 * is what gets mutated; when one rewrites a guard's text, the run stops and names the guard, and
 * this list is brought up to date with it.
 *
 * Most guards are an `if <condition> then <refuse>` whose removal is `if false then`; the two that
 * live in an update's `where` clause (overdraft, oversell under a race) lose that line instead.
 */
/**
 * Names a file of SQL that test/support/database.ts applies to every test database right after
 * its migrations: the function re-created with one guard removed.
 */
export const GUARD_MUTANT_VARIABLE = 'CHECKOUT_TEST_GUARD_MUTANT_SQL';

export interface OrderFunctionGuard {
  /** Stable name, used by `--only` and in the report. */
  readonly id: string;
  /** The database function that holds it. */
  readonly functionName: string;
  /** What it refuses, in the report's words. */
  readonly refusal: string;
  /** Text found exactly once in the live definition… */
  readonly find: string;
  /** …and what it becomes with the guard gone. */
  readonly replace: string;
}

/** A guard written `if <condition> then`, removed by making the condition false. */
function condition(
  id: string,
  functionName: string,
  refusal: string,
  text: string,
  context = '',
): OrderFunctionGuard {
  const find = `${context}if ${text} then`;
  return { id, functionName, refusal, find, replace: `${context}if false then` };
}

/** The NOT_FOUND answer of a transition: without it, the function acts on a row that is not there. */
function notFound(id: string, functionName: string): OrderFunctionGuard {
  const answer = "\n    return transition_result('NOT_FOUND', null);";
  return {
    id,
    functionName,
    refusal: 'an unknown order (NOT_FOUND)',
    find: `if not found then${answer}`,
    replace: `if false then${answer}`,
  };
}

export const ORDER_FUNCTION_GUARDS: readonly OrderFunctionGuard[] = [
  // place_order (0012)
  condition(
    'place-order.cart-shape',
    'place_order',
    'an empty cart, or SKU and quantity arrays of different lengths',
    'coalesce(cardinality(p_skus), 0) = 0 or cardinality(p_skus) <> cardinality(p_quantities)',
  ),
  condition(
    'place-order.positive-quantities',
    'place_order',
    'a quantity that is missing, zero or negative',
    'exists (select 1 from unnest(p_quantities) as q (quantity) where quantity is null or quantity <= 0)',
  ),
  condition(
    'place-order.credit-not-negative',
    'place_order',
    'negative store credit',
    'p_store_credit_cents < 0',
  ),
  condition(
    'place-order.unknown-sku',
    'place_order',
    'an unknown SKU (UNKNOWN_SKU)',
    'cardinality(v_unknown) > 0',
  ),
  condition(
    'place-order.currency',
    'place_order',
    'a cart in another currency than the catalog (CURRENCY_MISMATCH)',
    'cardinality(v_wrong_currency) > 0',
  ),
  condition(
    'place-order.oversell-read',
    'place_order',
    'oversell: lines short of stock, all of them named, nothing written (OUT_OF_STOCK)',
    'jsonb_array_length(v_short) > 0',
  ),
  condition(
    'place-order.credit-above-total',
    'place_order',
    'store credit above the order total (STORE_CREDIT_EXCEEDS_TOTAL)',
    'p_store_credit_cents > v_total',
  ),
  {
    id: 'place-order.overdraft',
    functionName: 'place_order',
    refusal: 'overdraft: a debit above the wallet balance (INSUFFICIENT_STORE_CREDIT)',
    find: '    where customer_id = p_customer_id\n      and balance_cents >= p_store_credit_cents;',
    replace: '    where customer_id = p_customer_id;',
  },
  {
    id: 'place-order.oversell-race',
    functionName: 'place_order',
    refusal: 'oversell under a race: stock taken by another checkout since the read (OUT_OF_STOCK)',
    find: '    where sku = v_skus[v_line]\n      and on_hand - reserved >= v_quantities[v_line];',
    replace: '    where sku = v_skus[v_line];',
  },

  // mark_authorized (0013)
  notFound('authorize.not-found', 'mark_authorized'),
  condition(
    'authorize.repeat',
    'mark_authorized',
    'a repeated authorization record (UNCHANGED)',
    "v_status in ('AUTHORIZED', 'CONFIRMED')",
  ),
  condition('authorize.fence', 'mark_authorized', 'authorizing after the compensation fence', 'v_fenced'),
  condition(
    'authorize.illegal',
    'mark_authorized',
    'authorizing an order or payment that is not PENDING',
    "v_status <> 'PENDING' or v_payment <> 'PENDING'",
  ),

  // mark_captured (0013)
  notFound('capture.not-found', 'mark_captured'),
  condition(
    'capture.repeat',
    'mark_captured',
    'a double capture record (UNCHANGED)',
    "v_payment = 'CAPTURED'",
  ),
  condition('capture.fence', 'mark_captured', 'recording a capture after the compensation fence', 'v_fenced'),
  condition(
    'capture.unauthorized',
    'mark_captured',
    'capture without an authorization',
    "v_status <> 'AUTHORIZED' or v_payment <> 'AUTHORIZED'",
  ),

  // record_payment_outcome (0007)
  condition(
    'payment-outcome.unsupported',
    'record_payment_outcome',
    'an outcome other than DECLINED, VOIDED or REFUNDED',
    'v_allowed_from is null',
  ),
  notFound('payment-outcome.not-found', 'record_payment_outcome'),
  condition(
    'payment-outcome.repeat',
    'record_payment_outcome',
    'a double refund, void or decline record (UNCHANGED)',
    'v_payment = p_payment_status',
  ),
  {
    id: 'payment-outcome.order-status',
    functionName: 'record_payment_outcome',
    refusal: 'reversing the payment of a confirmed or cancelled order',
    find: "if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') or not v_payment = any (v_allowed_from) then",
    replace: 'if false or not v_payment = any (v_allowed_from) then',
  },
  {
    id: 'payment-outcome.payment-status',
    functionName: 'record_payment_outcome',
    refusal: 'an outcome the payment cannot reach (a refund without a capture, a void after a refund, …)',
    find: "if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') or not v_payment = any (v_allowed_from) then",
    replace: "if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') or false then",
  },

  // confirm_order (0013)
  notFound('confirm.not-found', 'confirm_order'),
  condition(
    'confirm.repeat',
    'confirm_order',
    'a repeated confirmation (UNCHANGED)',
    "v_status = 'CONFIRMED'",
  ),
  condition('confirm.fence', 'confirm_order', 'confirming after the compensation fence', 'v_fenced'),
  condition(
    'confirm.unpaid',
    'confirm_order',
    'confirming an order whose payment is not captured (or not free)',
    "not ((v_status = 'AUTHORIZED' and v_payment = 'CAPTURED') or (v_status = 'PENDING' and v_payment = 'NOT_REQUIRED'))",
  ),
  condition(
    'confirm.after-release',
    'confirm_order',
    'confirm after release: stock that may be sold to someone else (RESERVATION_RELEASED)',
    "exists (select 1 from reservations where order_id = p_order_id and status = 'RELEASED')",
  ),

  // release_reservations (0002)
  notFound('release.not-found', 'release_reservations'),
  condition(
    'release.confirmed',
    'release_reservations',
    "releasing a confirmed order's stock",
    "v_status = 'CONFIRMED'",
  ),
  condition('release.repeat', 'release_reservations', 'a repeated release (UNCHANGED)', 'v_released = 0'),

  // refund_store_credit (0002)
  notFound('refund-credit.not-found', 'refund_store_credit'),
  condition(
    'refund-credit.confirmed',
    'refund_store_credit',
    "refunding a confirmed order's store credit",
    "v_status = 'CONFIRMED'",
  ),
  condition(
    'refund-credit.none',
    'refund_store_credit',
    'refunding an order that used no credit',
    'v_credit = 0',
  ),
  condition(
    'refund-credit.double',
    'refund_store_credit',
    'double refund of store credit',
    'not found',
    '  on conflict (idempotency_key) do nothing;\n  ',
  ),

  // cancel_order (0002)
  condition(
    'cancel.reason',
    'cancel_order',
    'a cancellation without a reason',
    "coalesce(p_reason, '') = ''",
  ),
  notFound('cancel.not-found', 'cancel_order'),
  condition('cancel.repeat', 'cancel_order', 'a repeated cancellation (UNCHANGED)', "v_status = 'CANCELLED'"),
  condition(
    'cancel.confirmed',
    'cancel_order',
    'cancelling a confirmed order',
    "v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION')",
  ),
  condition(
    'cancel.stock-held',
    'cancel_order',
    'cancel while stock is held (RESERVATIONS_HELD)',
    "exists (select 1 from reservations where order_id = p_order_id and status = 'HELD')",
  ),
  condition(
    'cancel.credit-held',
    'cancel_order',
    'cancel while store credit is not refunded (STORE_CREDIT_NOT_REFUNDED)',
    "v_credit > 0 and not exists (\n    select 1 from wallet_transactions where idempotency_key = 'order:' || p_order_id || ':refund'\n  )",
  ),
  condition(
    'cancel.payment-held',
    'cancel_order',
    'cancel while the payment is authorized or captured (PAYMENT_NOT_REVERSED)',
    "v_payment in ('AUTHORIZED', 'CAPTURED')",
  ),
  condition(
    'cancel.outstanding',
    'cancel_order',
    'cancel while anything is held (COMPENSATION_INCOMPLETE)',
    'cardinality(v_outstanding) > 0',
  ),

  // mark_requires_attention (0013)
  notFound('attention.not-found', 'mark_requires_attention'),
  condition(
    'attention.cancelled',
    'mark_requires_attention',
    'parking an order the compensation worker already cancelled (UNCHANGED, audit row resolved)',
    "v_status = 'CANCELLED'",
  ),
  condition(
    'attention.confirmed',
    'mark_requires_attention',
    'parking a confirmed order',
    "v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION')",
  ),
  condition(
    'attention.repeat',
    'mark_requires_attention',
    'parking an order twice (UNCHANGED)',
    "v_status = 'REQUIRES_ATTENTION'",
  ),

  // fence_order (0013)
  notFound('fence.not-found', 'fence_order'),
  condition(
    'fence.confirmed',
    'fence_order',
    'fencing a confirmed order (a sale stays a sale)',
    "v_status = 'CONFIRMED'",
  ),
  condition('fence.repeat', 'fence_order', 'fencing an order twice (UNCHANGED)', 'v_fenced_at is not null'),

  // place_or_find_order and capture_and_confirm (0015)
  condition(
    'place-or-find.exists',
    'place_or_find_order',
    'placing again under an order id that exists: a retry gets its order (EXISTS), not a second placement',
    'exists (select 1 from orders where id = p_order_id)',
  ),
  condition(
    'capture-and-confirm.capture-refused',
    'capture_and_confirm',
    'confirming after the capture record was refused (fenced, not authorized)',
    "v_captured ->> 'outcome' not in ('APPLIED', 'UNCHANGED')",
  ),

  // set_wallet_balance (0002) and the append-only ledger (0001)
  condition(
    'wallet-balance.unchanged',
    'set_wallet_balance',
    'a zero adjustment in the wallet ledger',
    'p_balance_cents <> v_current',
  ),
  {
    id: 'ledger.append-only',
    functionName: 'forbid_mutation',
    refusal: 'updating or deleting wallet ledger or order event rows',
    find: "raise exception '% is append-only', tg_table_name using errcode = 'restrict_violation';",
    replace: 'return coalesce(new, old);',
  },
];
