-- Fewer round trips per checkout (docs/capacity.md, docs/adr/0026-fewer-round-trips-per-checkout.md).
--
-- A happy card checkout made seven top-level statements: the API read the order (order_snapshot)
-- and then placed it (place_order); AuthorizePayment read it and recorded the authorization;
-- CapturePayment read it, recorded the capture (mark_captured) and confirmed it (confirm_order).
-- Each statement is a round trip through RDS Proxy and a transaction with its commit, the largest
-- part of PostgreSQL's cost per checkout after the work itself. Two functions fold them:
--
-- - place_or_find_order: the API's read-then-place in one call. It answers the order that exists
--   under this id (an earlier attempt with the same Idempotency-Key placed it) as `EXISTS` with its
--   snapshot, before checking any stock or credit, exactly as the separate read did; otherwise it is
--   place_order, unchanged.
-- - capture_and_confirm: mark_captured and confirm_order in one transaction. The capture is
--   recorded even when the confirmation is refused (fenced, reservation released): both return
--   their refusal rather than raise, so the transaction commits the capture record either way, as
--   the two calls did. The refusal of the capture record itself comes back unchanged and nothing
--   is confirmed.
-- - payment_step_view: what AuthorizePayment and CapturePayment read before calling the provider
--   (status, fence, payment, amount), without order_snapshot's items and timestamps. The same
--   rows by the same keys; a third of the work of building the whole snapshot.
--
-- Expand only: three new functions, the old ones untouched, so the release still running keeps
-- working while this one rolls out.

create function place_or_find_order(
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
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  -- A retry must find its order even when the stock or credit the first attempt reserved has gone
  -- since: place_order would answer OUT_OF_STOCK before it ever reached the duplicate key.
  if exists (select 1 from orders where id = p_order_id) then
    return jsonb_build_object('outcome', 'EXISTS', 'order', order_snapshot(p_order_id));
  end if;
  return place_order(
    p_order_id, p_customer_id, p_currency, p_payment_method, p_store_credit_cents,
    p_skus, p_quantities, p_reservation_ttl, p_correlation_id
  );
end
$$;

create function capture_and_confirm(p_order_id uuid, p_capture_id text, p_correlation_id text)
returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_captured jsonb;
begin
  v_captured := mark_captured(p_order_id, p_capture_id, p_correlation_id);
  if v_captured ->> 'outcome' not in ('APPLIED', 'UNCHANGED') then
    return v_captured || jsonb_build_object('step', 'capture');
  end if;
  return confirm_order(p_order_id, p_correlation_id) || jsonb_build_object('step', 'confirm');
end
$$;

create function payment_step_view(p_order_id uuid) returns jsonb
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
      'status', o.status,
      'currency', o.currency,
      'chargeCents', o.charge_cents,
      'paymentMethod', o.payment_method,
      'payment', jsonb_build_object('status', p.status, 'authorizationId', p.authorization_id),
      -- As order_snapshot's (0013): fenced, or compensated by a release that ran without a fence.
      'fenced', o.fenced_at is not null or o.status in ('CANCELLED', 'REQUIRES_ATTENTION') or p.status in ('VOIDED', 'REFUNDED')
    )
    from orders o
    join payments p on p.order_id = o.id
    where o.id = p_order_id
  );
end
$$;

grant execute on function payment_step_view(uuid) to checkout_app;
grant execute on function place_or_find_order(uuid, text, text, text, bigint, text[], integer[], interval, text)
  to checkout_app;
grant execute on function capture_and_confirm(uuid, text, text) to checkout_app;
