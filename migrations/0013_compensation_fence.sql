-- The compensation fence (docs/architecture.md, "The compensation fence"; docs/adr/0018).
--
-- A payment Task's invocation can outlive the state that called it: the state gives up (its
-- TimeoutSeconds, or a Lambda service error), compensation starts, and the abandoned invocation is
-- still running. If it then authorized, captured or confirmed, compensation and it would undo each
-- other: a CONFIRMED order whose money was refunded, or an authorization nobody voids. So
-- compensation first fences the order (fence_order), before it releases anything or reverses any
-- payment, and from then on mark_authorized, mark_captured and confirm_order refuse it. The step
-- whose provider call landed after the fence reverses it itself (src/saga/steps.ts).
--
-- An order is fenced once fence_order ran (orders.fenced_at), and also whenever it is CANCELLED or
-- REQUIRES_ATTENTION, or its payment was voided or refunded: those are compensations the release
-- before this one ran without a fence (during a canary, both releases serve), and none of them may
-- be undone by a late side effect either.
--
-- Expand only, and compatible with the release still running: one new nullable column, one new
-- function, and the same signatures and outcomes as before. A fenced refusal is still
-- ILLEGAL_TRANSITION (what the previous release understands: it stops the step without retrying),
-- with `fenced: true` added for the release that knows to reverse its late side effect.
-- mark_requires_attention on a CANCELLED order is now a no-op instead of a refusal: the
-- compensation worker may have finished the job before the saga's MarkRequiresAttention ran.

alter table orders add column fenced_at timestamptz;

create function fence_order(p_order_id uuid, p_correlation_id text) returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_status text;
  v_fenced_at timestamptz;
begin
  select status, fenced_at into v_status, v_fenced_at from orders where id = p_order_id for update;
  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  -- Confirmed before compensation could fence it: a sale, with its capture and its stock. The
  -- saga ends it as confirmed; nothing is reversed.
  if v_status = 'CONFIRMED' then
    return transition_result('UNCHANGED', v_status, jsonb_build_object('fenced', false));
  end if;
  if v_fenced_at is not null then
    return transition_result('UNCHANGED', v_status, jsonb_build_object('fenced', true));
  end if;

  update orders set fenced_at = now() where id = p_order_id;
  perform record_order_event(p_order_id, 'ORDER_FENCED', '{}', p_correlation_id);
  return transition_result('APPLIED', v_status, jsonb_build_object('fenced', true));
end
$$;

revoke execute on function fence_order(uuid, text) from public;
grant execute on function fence_order(uuid, text) to checkout_app;

create or replace function mark_authorized(p_order_id uuid, p_authorization_id text, p_correlation_id text)
returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_status text;
  v_payment text;
  v_fenced boolean;
begin
  select
    o.status,
    p.status,
    o.fenced_at is not null or o.status in ('CANCELLED', 'REQUIRES_ATTENTION') or p.status in ('VOIDED', 'REFUNDED')
  into v_status, v_payment, v_fenced
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  -- Recorded before the fence: compensation knows this authorization and voids it.
  if v_status in ('AUTHORIZED', 'CONFIRMED') then
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_fenced then
    return transition_result(
      'ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment, 'fenced', true)
    );
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

create or replace function mark_captured(p_order_id uuid, p_capture_id text, p_correlation_id text)
returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_status text;
  v_payment text;
  v_fenced boolean;
begin
  select
    o.status,
    p.status,
    o.fenced_at is not null or o.status in ('CANCELLED', 'REQUIRES_ATTENTION') or p.status in ('VOIDED', 'REFUNDED')
  into v_status, v_payment, v_fenced
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  -- Recorded before the fence: compensation finds the capture and refunds it.
  if v_payment = 'CAPTURED' then
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_fenced then
    return transition_result(
      'ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment, 'fenced', true)
    );
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

create or replace function confirm_order(p_order_id uuid, p_correlation_id text)
returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_status text;
  v_payment text;
  v_fenced boolean;
begin
  select
    o.status,
    p.status,
    o.fenced_at is not null or o.status in ('CANCELLED', 'REQUIRES_ATTENTION') or p.status in ('VOIDED', 'REFUNDED')
  into v_status, v_payment, v_fenced
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
  if v_fenced then
    return transition_result(
      'ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment, 'fenced', true)
    );
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

-- The saga's MarkRequiresAttention runs after its QueueCompensation state, so the compensation
-- worker may already have finished the job and cancelled the order. That is not a failure: the
-- call records the compensation as resolved (the saga did fail a step, and the audit keeps it)
-- and answers UNCHANGED with the CANCELLED status, which the state machine ends on as cancelled.
create or replace function mark_requires_attention(
  p_order_id uuid,
  p_compensation_id text,
  p_steps jsonb,
  p_error text,
  p_cancellation_reason text,
  p_correlation_id text
) returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_status text;
begin
  select status into v_status from orders where id = p_order_id for update;
  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status = 'CANCELLED' then
    insert into failed_compensations (
      compensation_id, order_id, steps, status, last_error, cancellation_reason, correlation_id, resolved_at
    )
    values (
      p_compensation_id, p_order_id, p_steps, 'RESOLVED', p_error, p_cancellation_reason, p_correlation_id, now()
    )
    on conflict (compensation_id) do nothing;
    return transition_result('UNCHANGED', v_status);
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;

  insert into failed_compensations (compensation_id, order_id, steps, last_error, cancellation_reason, correlation_id)
  values (p_compensation_id, p_order_id, p_steps, p_error, p_cancellation_reason, p_correlation_id)
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

-- The order as the service reads it, now saying whether it is fenced (the same rule as above), so
-- a payment step that starts after the fence refuses before it calls the provider at all.
create or replace function order_snapshot(p_order_id uuid) returns jsonb
language plpgsql
stable
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
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
      'fenced', o.fenced_at is not null or o.status in ('CANCELLED', 'REQUIRES_ATTENTION') or p.status in ('VOIDED', 'REFUNDED'),
      'createdAt', o.created_at,
      'updatedAt', o.updated_at
    )
    from orders o
    join payments p on p.order_id = o.id
    where o.id = p_order_id
  );
end
$$;
