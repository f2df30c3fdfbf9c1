-- Every write the checkout path makes is one function call: one round trip from the client, one
-- transaction, whatever the cart size. Row locks on hot inventory rows are therefore held for
-- the microseconds the function runs, never across an application round trip.
--
-- Lock order, the same everywhere, so concurrent callers queue instead of deadlocking:
--   order row -> inventory rows in SKU order -> wallet row.
--
-- Transitions answer with jsonb {outcome, status, ...}:
--   APPLIED            the change was made
--   UNCHANGED          it had been made already (every transition is safe to repeat)
--   ILLEGAL_TRANSITION the order is in a state the change does not apply to
--   NOT_FOUND          no such order
-- and business refusals (OUT_OF_STOCK, INSUFFICIENT_STORE_CREDIT, ...) as their own outcomes, so
-- callers get typed results instead of exceptions from deep inside.

-- The order as the API and the outbox show it.
create function order_snapshot(p_order_id uuid) returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'orderId', o.id,
    'customerId', o.customer_id,
    'status', o.status,
    'currency', o.currency,
    'totalCents', o.total_cents,
    'storeCreditCents', o.store_credit_cents,
    'chargeCents', o.charge_cents,
    'paymentMethod', o.payment_method,
    'cancellationReason', o.cancellation_reason,
    'correlationId', o.correlation_id,
    'items', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'sku', i.sku, 'quantity', i.quantity, 'unitPriceCents', i.unit_price_cents
      ) order by i.sku), '[]'::jsonb)
      from order_items i
      where i.order_id = o.id
    ),
    'payment', jsonb_build_object('status', p.status, 'authorizationId', p.authorization_id),
    'createdAt', o.created_at,
    'updatedAt', o.updated_at
  )
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
$$;

create function transition_result(p_outcome text, p_status text, p_detail jsonb default '{}')
returns jsonb
language sql
immutable
as $$
  select jsonb_build_object('outcome', p_outcome, 'status', p_status) || p_detail
$$;

-- Moves an order to a new status and appends the audit event. Callers hold the order row lock.
create function set_order_status(
  p_order_id uuid,
  p_from text,
  p_to text,
  p_event text,
  p_detail jsonb,
  p_correlation_id text,
  p_cancellation_reason text default null
) returns void
language plpgsql
as $$
begin
  update orders
  set status = p_to,
      cancellation_reason = coalesce(p_cancellation_reason, cancellation_reason),
      updated_at = now()
  where id = p_order_id;

  insert into order_events (order_id, type, from_status, to_status, detail, correlation_id)
  values (p_order_id, p_event, p_from, p_to, p_detail, p_correlation_id);
end
$$;

create function record_order_event(p_order_id uuid, p_event text, p_detail jsonb, p_correlation_id text)
returns void
language sql
as $$
  insert into order_events (order_id, type, detail, correlation_id)
  values (p_order_id, p_event, p_detail, p_correlation_id)
$$;

create function enqueue_outbox_event(p_order_id uuid, p_type text, p_correlation_id text)
returns void
language sql
as $$
  insert into outbox_events (aggregate_id, type, payload, correlation_id)
  values (p_order_id, p_type, order_snapshot(p_order_id), p_correlation_id)
$$;

create function place_order(
  p_order_id uuid,
  p_customer_id text,
  p_currency text,
  p_payment_method text,
  p_store_credit_cents bigint,
  p_skus text[],
  p_quantities integer[],
  p_reservation_ttl interval,
  p_correlation_id text
) returns jsonb
language plpgsql
as $$
declare
  v_skus text[];
  v_quantities integer[];
  v_unknown text[];
  v_wrong_currency text[];
  v_short jsonb;
  v_total bigint;
  v_charge bigint;
begin
  if coalesce(cardinality(p_skus), 0) = 0 or cardinality(p_skus) <> cardinality(p_quantities) then
    raise exception 'place_order needs non-empty sku and quantity arrays of equal length'
      using errcode = 'invalid_parameter_value';
  end if;
  if exists (select 1 from unnest(p_quantities) as q (quantity) where quantity is null or quantity <= 0) then
    raise exception 'place_order quantities must be positive' using errcode = 'invalid_parameter_value';
  end if;
  if p_store_credit_cents < 0 then
    raise exception 'place_order store credit must not be negative' using errcode = 'invalid_parameter_value';
  end if;

  -- Merge duplicate lines and sort by SKU; the sort is the lock order.
  select array_agg(merged.sku order by merged.sku), array_agg(merged.quantity order by merged.sku)
  into v_skus, v_quantities
  from (
    select line.sku, sum(line.quantity)::integer as quantity
    from unnest(p_skus, p_quantities) as line (sku, quantity)
    group by line.sku
  ) merged;

  perform 1
  from inventory
  where sku = any (v_skus)
  order by sku
  for update;

  select
    coalesce(array_agg(line.sku order by line.sku) filter (where i.sku is null), '{}'),
    coalesce(array_agg(line.sku order by line.sku) filter (where pr.currency <> p_currency), '{}'),
    coalesce(
      jsonb_agg(
        jsonb_build_object('sku', line.sku, 'requested', line.quantity, 'available', i.on_hand - i.reserved)
        order by line.sku
      ) filter (where i.on_hand - i.reserved < line.quantity),
      '[]'::jsonb
    ),
    sum(line.quantity * pr.price_cents)
  into v_unknown, v_wrong_currency, v_short, v_total
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  left join inventory i on i.sku = line.sku
  left join products pr on pr.sku = line.sku;

  if cardinality(v_unknown) > 0 then
    return jsonb_build_object('outcome', 'UNKNOWN_SKU', 'skus', to_jsonb(v_unknown));
  end if;
  if cardinality(v_wrong_currency) > 0 then
    return jsonb_build_object('outcome', 'CURRENCY_MISMATCH', 'skus', to_jsonb(v_wrong_currency));
  end if;
  if jsonb_array_length(v_short) > 0 then
    return jsonb_build_object('outcome', 'OUT_OF_STOCK', 'lines', v_short);
  end if;
  if p_store_credit_cents > v_total then
    return jsonb_build_object('outcome', 'STORE_CREDIT_EXCEEDS_TOTAL', 'totalCents', v_total);
  end if;

  if p_store_credit_cents > 0 then
    update store_credit_wallets
    set balance_cents = balance_cents - p_store_credit_cents,
        updated_at = now()
    where customer_id = p_customer_id
      and balance_cents >= p_store_credit_cents;
    if not found then
      return jsonb_build_object(
        'outcome', 'INSUFFICIENT_STORE_CREDIT',
        'balanceCents', coalesce(
          (select balance_cents from store_credit_wallets where customer_id = p_customer_id), 0
        )
      );
    end if;
  end if;

  v_charge := v_total - p_store_credit_cents;

  insert into orders (id, customer_id, currency, total_cents, store_credit_cents, payment_method, correlation_id)
  values (p_order_id, p_customer_id, p_currency, v_total, p_store_credit_cents, p_payment_method, p_correlation_id);

  insert into order_items (order_id, sku, quantity, unit_price_cents)
  select p_order_id, line.sku, line.quantity, pr.price_cents
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  join products pr on pr.sku = line.sku;

  update inventory i
  set reserved = i.reserved + line.quantity,
      updated_at = now()
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  where i.sku = line.sku;

  insert into reservations (order_id, sku, quantity, expires_at)
  select p_order_id, line.sku, line.quantity, now() + p_reservation_ttl
  from unnest(v_skus, v_quantities) as line (sku, quantity);

  insert into payments (order_id, status, amount_cents, payment_method)
  values (
    p_order_id,
    case when v_charge = 0 then 'NOT_REQUIRED' else 'PENDING' end,
    v_charge,
    p_payment_method
  );

  if p_store_credit_cents > 0 then
    insert into wallet_transactions (customer_id, order_id, kind, amount_cents, idempotency_key)
    values (p_customer_id, p_order_id, 'DEBIT', -p_store_credit_cents, 'order:' || p_order_id || ':debit');
  end if;

  insert into order_events (order_id, type, to_status, detail, correlation_id)
  values (
    p_order_id, 'ORDER_PLACED', 'PENDING',
    jsonb_build_object('totalCents', v_total, 'storeCreditCents', p_store_credit_cents, 'chargeCents', v_charge),
    p_correlation_id
  );
  perform enqueue_outbox_event(p_order_id, 'order.placed', p_correlation_id);

  return jsonb_build_object('outcome', 'PLACED', 'order', order_snapshot(p_order_id));
end
$$;

create function mark_authorized(p_order_id uuid, p_authorization_id text, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
begin
  select o.status, p.status
  into v_status, v_payment
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status in ('AUTHORIZED', 'CONFIRMED') then
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_status <> 'PENDING' or v_payment <> 'PENDING' then
    return transition_result('ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;

  update payments
  set status = 'AUTHORIZED', authorization_id = p_authorization_id, updated_at = now()
  where order_id = p_order_id;
  perform set_order_status(
    p_order_id, 'PENDING', 'AUTHORIZED', 'PAYMENT_AUTHORIZED',
    jsonb_build_object('authorizationId', p_authorization_id), p_correlation_id
  );
  return transition_result('APPLIED', 'AUTHORIZED');
end
$$;

create function mark_captured(p_order_id uuid, p_capture_id text, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
begin
  select o.status, p.status
  into v_status, v_payment
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_payment = 'CAPTURED' then
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_status <> 'AUTHORIZED' or v_payment <> 'AUTHORIZED' then
    return transition_result('ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;

  update payments set status = 'CAPTURED', updated_at = now() where order_id = p_order_id;
  perform record_order_event(
    p_order_id, 'PAYMENT_CAPTURED', jsonb_build_object('captureId', p_capture_id), p_correlation_id
  );
  return transition_result('APPLIED', v_status);
end
$$;

-- Settles a payment reversal or refusal: DECLINED (authorize refused), VOIDED (authorization
-- released, also when authorize timed out and its outcome is unknown) or REFUNDED (after capture).
create function record_payment_outcome(p_order_id uuid, p_payment_status text, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
  v_allowed_from text[];
begin
  v_allowed_from := case p_payment_status
    when 'DECLINED' then array['PENDING']
    when 'VOIDED' then array['PENDING', 'AUTHORIZED']
    when 'REFUNDED' then array['CAPTURED']
  end;
  if v_allowed_from is null then
    raise exception 'record_payment_outcome: unsupported payment status %', p_payment_status
      using errcode = 'invalid_parameter_value';
  end if;

  select o.status, p.status
  into v_status, v_payment
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_payment = p_payment_status then
    return transition_result('UNCHANGED', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') or not v_payment = any (v_allowed_from) then
    return transition_result('ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;

  update payments set status = p_payment_status, updated_at = now() where order_id = p_order_id;
  perform record_order_event(
    p_order_id, 'PAYMENT_' || p_payment_status,
    jsonb_build_object('from', v_payment, 'to', p_payment_status), p_correlation_id
  );
  return transition_result('APPLIED', v_status, jsonb_build_object('paymentStatus', p_payment_status));
end
$$;

-- Confirms a paid order: its reservations are committed, so the stock leaves on_hand for good.
create function confirm_order(p_order_id uuid, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
begin
  select o.status, p.status
  into v_status, v_payment
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status = 'CONFIRMED' then
    return transition_result('UNCHANGED', v_status);
  end if;
  if not ((v_status = 'AUTHORIZED' and v_payment = 'CAPTURED') or (v_status = 'PENDING' and v_payment = 'NOT_REQUIRED')) then
    return transition_result('ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;
  -- A released reservation means the stock may be sold to someone else already: never confirm it.
  if exists (select 1 from reservations where order_id = p_order_id and status = 'RELEASED') then
    return transition_result('RESERVATION_RELEASED', v_status);
  end if;

  perform 1
  from inventory
  where sku in (select sku from reservations where order_id = p_order_id and status = 'HELD')
  order by sku
  for update;

  with committed as (
    update reservations
    set status = 'COMMITTED', updated_at = now()
    where order_id = p_order_id
      and status = 'HELD'
    returning sku, quantity
  )
  update inventory i
  set on_hand = i.on_hand - c.quantity,
      reserved = i.reserved - c.quantity,
      updated_at = now()
  from committed c
  where i.sku = c.sku;

  perform set_order_status(p_order_id, v_status, 'CONFIRMED', 'ORDER_CONFIRMED', '{}', p_correlation_id);
  perform enqueue_outbox_event(p_order_id, 'order.confirmed', p_correlation_id);
  return transition_result('APPLIED', 'CONFIRMED');
end
$$;

create function release_reservations(p_order_id uuid, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_released integer;
begin
  select status into v_status from orders where id = p_order_id for update;
  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status = 'CONFIRMED' then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;

  perform 1
  from inventory
  where sku in (select sku from reservations where order_id = p_order_id and status = 'HELD')
  order by sku
  for update;

  with released as (
    update reservations
    set status = 'RELEASED', updated_at = now()
    where order_id = p_order_id
      and status = 'HELD'
    returning sku, quantity
  )
  update inventory i
  set reserved = i.reserved - r.quantity,
      updated_at = now()
  from released r
  where i.sku = r.sku;
  get diagnostics v_released = row_count;

  if v_released = 0 then
    return transition_result('UNCHANGED', v_status);
  end if;
  perform record_order_event(
    p_order_id, 'RESERVATIONS_RELEASED', jsonb_build_object('lines', v_released), p_correlation_id
  );
  return transition_result('APPLIED', v_status);
end
$$;

create function refund_store_credit(p_order_id uuid, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_customer text;
  v_credit bigint;
begin
  select status, customer_id, store_credit_cents
  into v_status, v_customer, v_credit
  from orders
  where id = p_order_id
  for update;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status = 'CONFIRMED' then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;
  if v_credit = 0 then
    return transition_result('UNCHANGED', v_status);
  end if;

  -- The ledger's unique idempotency key is what makes a second refund a no-op.
  insert into wallet_transactions (customer_id, order_id, kind, amount_cents, idempotency_key)
  values (v_customer, p_order_id, 'REFUND', v_credit, 'order:' || p_order_id || ':refund')
  on conflict (idempotency_key) do nothing;
  if not found then
    return transition_result('UNCHANGED', v_status);
  end if;

  update store_credit_wallets
  set balance_cents = balance_cents + v_credit, updated_at = now()
  where customer_id = v_customer;
  perform record_order_event(
    p_order_id, 'STORE_CREDIT_REFUNDED', jsonb_build_object('amountCents', v_credit), p_correlation_id
  );
  return transition_result('APPLIED', v_status);
end
$$;

-- CANCELLED promises the customer was made whole, so it is refused while stock is still held,
-- store credit still debited or the payment still authorized or captured.
create function cancel_order(p_order_id uuid, p_reason text, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
  v_credit bigint;
  v_outstanding text[] := '{}';
begin
  if coalesce(p_reason, '') = '' then
    raise exception 'cancel_order needs a reason' using errcode = 'invalid_parameter_value';
  end if;

  select o.status, p.status, o.store_credit_cents
  into v_status, v_payment, v_credit
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status = 'CANCELLED' then
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;

  if exists (select 1 from reservations where order_id = p_order_id and status = 'HELD') then
    v_outstanding := array_append(v_outstanding, 'RESERVATIONS_HELD');
  end if;
  if v_credit > 0 and not exists (
    select 1 from wallet_transactions where idempotency_key = 'order:' || p_order_id || ':refund'
  ) then
    v_outstanding := array_append(v_outstanding, 'STORE_CREDIT_NOT_REFUNDED');
  end if;
  if v_payment in ('AUTHORIZED', 'CAPTURED') then
    v_outstanding := array_append(v_outstanding, 'PAYMENT_NOT_REVERSED');
  end if;
  if cardinality(v_outstanding) > 0 then
    return transition_result(
      'COMPENSATION_INCOMPLETE', v_status, jsonb_build_object('outstanding', to_jsonb(v_outstanding))
    );
  end if;

  perform set_order_status(
    p_order_id, v_status, 'CANCELLED', 'ORDER_CANCELLED',
    jsonb_build_object('reason', p_reason), p_correlation_id, p_reason
  );
  perform enqueue_outbox_event(p_order_id, 'order.cancelled', p_correlation_id);
  return transition_result('APPLIED', 'CANCELLED');
end
$$;

-- A compensation step failed inside the saga and its remainder went to the compensation queue:
-- record it for operators (the DLQ's audit view) and park the order until the worker finishes.
create function mark_requires_attention(
  p_order_id uuid,
  p_compensation_id text,
  p_steps jsonb,
  p_error text,
  p_correlation_id text
) returns jsonb
language plpgsql
as $$
declare
  v_status text;
begin
  select status into v_status from orders where id = p_order_id for update;
  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;

  insert into failed_compensations (compensation_id, order_id, steps, last_error, correlation_id)
  values (p_compensation_id, p_order_id, p_steps, p_error, p_correlation_id)
  on conflict (compensation_id) do nothing;

  if v_status = 'REQUIRES_ATTENTION' then
    return transition_result('UNCHANGED', v_status);
  end if;
  perform set_order_status(
    p_order_id, v_status, 'REQUIRES_ATTENTION', 'ORDER_REQUIRES_ATTENTION',
    jsonb_build_object('compensationId', p_compensation_id, 'error', p_error), p_correlation_id
  );
  perform enqueue_outbox_event(p_order_id, 'compensation.failed', p_correlation_id);
  return transition_result('APPLIED', 'REQUIRES_ATTENTION');
end
$$;

-- Admin: sets a wallet's balance through the ledger, as an adjustment of the difference.
create function set_wallet_balance(p_customer_id text, p_balance_cents bigint, p_adjustment_key text)
returns bigint
language plpgsql
as $$
declare
  v_current bigint;
begin
  insert into store_credit_wallets (customer_id) values (p_customer_id) on conflict do nothing;
  select balance_cents into v_current from store_credit_wallets where customer_id = p_customer_id for update;
  if p_balance_cents <> v_current then
    insert into wallet_transactions (customer_id, kind, amount_cents, idempotency_key)
    values (p_customer_id, 'ADJUSTMENT', p_balance_cents - v_current, p_adjustment_key);
    update store_credit_wallets
    set balance_cents = p_balance_cents, updated_at = now()
    where customer_id = p_customer_id;
  end if;
  return p_balance_cents;
end
$$;
