-- The operator console (docs/adr/0024-operator-console-and-kill-switches.md).
--
-- 1. order_holdings: what a customer is still owed for an order right now, as the database
--    records it: stock still reserved, store credit still debited, and the card payment still
--    held (an open authorization, or a capture not refunded). The console and `npm run ops` show
--    it beside what the provider reports, so an operator sees the harm before redriving anything.
--    Read-only, granted to the application role like order_snapshot.
-- 2. requeue_compensation: an operator's retry of a failed compensation, recorded on the order's
--    timeline (order_events, append-only) in the same transaction as the status change, with the
--    IAM principal API Gateway authorised. The application role cannot write order_events itself;
--    this function is its only way to record an operator's retry, and it records one only with
--    the requeue it describes.
--
-- Expand only: two new functions, nothing the release still running uses changes.

create function order_holdings(p_order_id uuid) returns jsonb
language plpgsql
stable
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
  select jsonb_build_object(
    'reservedItems', (
      select coalesce(jsonb_agg(jsonb_build_object('sku', r.sku, 'quantity', r.quantity) order by r.sku), '[]'::jsonb)
      from reservations r
      where r.order_id = o.id
        and r.status = 'HELD'
    ),
    -- Debits are negative and refunds positive in the ledger: what is still taken is minus their sum.
    'storeCreditCents', (
      select greatest(0, -coalesce(sum(t.amount_cents), 0))
      from wallet_transactions t
      where t.order_id = o.id
        and t.kind in ('DEBIT', 'REFUND')
    ),
    'card', (
      select jsonb_build_object(
        'status', case p.status
          when 'AUTHORIZED' then 'AUTHORIZED'
          when 'CAPTURED' then 'CAPTURED'
          -- Authorize may have reached the provider without its answer: the provider knows.
          when 'PENDING' then 'UNKNOWN'
          else 'NONE'
        end,
        'amountCents', case when p.status in ('AUTHORIZED', 'CAPTURED', 'PENDING') then p.amount_cents else 0 end
      )
      from payments p
      where p.order_id = o.id
    )
  )
  from orders o
  where o.id = p_order_id
  );
end
$$;

revoke execute on function order_holdings(uuid) from public;
grant execute on function order_holdings(uuid) to checkout_app;

create function requeue_compensation(p_compensation_id text, p_requested_by text, p_correlation_id text)
returns jsonb
language plpgsql
security definer
set search_path = public, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_order_id uuid;
  v_status text;
begin
  select order_id, status into v_order_id, v_status
  from failed_compensations
  where compensation_id = p_compensation_id
  for update;
  if not found then
    return jsonb_build_object('outcome', 'NOT_FOUND');
  end if;
  if v_status = 'RESOLVED' then
    return jsonb_build_object('outcome', 'RESOLVED', 'status', v_status);
  end if;
  -- FAILED waits for the worker again; PENDING and RETRYING are already waiting or being worked on.
  if v_status = 'FAILED' then
    update failed_compensations
    set status = 'PENDING', updated_at = now()
    where compensation_id = p_compensation_id;
  end if;
  perform record_order_event(
    v_order_id,
    'COMPENSATION_RETRY_REQUESTED',
    jsonb_build_object(
      'compensationId', p_compensation_id,
      'requestedBy', p_requested_by,
      'previousStatus', v_status
    ),
    p_correlation_id
  );
  return jsonb_build_object(
    'outcome', 'APPLIED',
    'status', case when v_status = 'FAILED' then 'PENDING' else v_status end
  );
end
$$;

revoke execute on function requeue_compensation(text, text, text) from public;
grant execute on function requeue_compensation(text, text, text) to checkout_app;
