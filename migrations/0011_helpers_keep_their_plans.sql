-- The four helpers that were SQL-language functions become PL/pgSQL, with the same signatures,
-- results and rights (security definer, fixed search_path, as 0008 gave them; `create or replace`
-- keeps their grants but would otherwise drop those settings).
--
-- Why: a SQL-language function with a SET clause (every function here has one, see 0008) is never
-- inlined, and PostgreSQL parses and plans its body again each time a statement calls it; that
-- plan lives only as long as the calling statement. The application's statements are unnamed
-- (RDS Proxy pins prepared statements, docs/adr/0009), so `select order_snapshot($1)` and every
-- order function that enqueues an outbox event re-planned these bodies on every call. PL/pgSQL
-- keeps each statement's plan for the life of the connection. docs/PERFORMANCE.md measures it.

create or replace function order_snapshot(p_order_id uuid) returns jsonb
language plpgsql
stable
security definer
set search_path = public, pg_temp
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
      'createdAt', o.created_at,
      'updatedAt', o.updated_at
    )
    from orders o
    join payments p on p.order_id = o.id
    where o.id = p_order_id
  );
end
$$;

create or replace function transition_result(p_outcome text, p_status text, p_detail jsonb default '{}')
returns jsonb
language plpgsql
immutable
security definer
set search_path = public, pg_temp
as $$
begin
  return jsonb_build_object('outcome', p_outcome, 'status', p_status) || p_detail;
end
$$;

create or replace function record_order_event(p_order_id uuid, p_event text, p_detail jsonb, p_correlation_id text)
returns void
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
  insert into order_events (order_id, type, detail, correlation_id)
  values (p_order_id, p_event, p_detail, p_correlation_id);
end
$$;

create or replace function enqueue_outbox_event(p_order_id uuid, p_type text, p_correlation_id text)
returns void
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
  insert into outbox_events (aggregate_id, type, payload, correlation_id)
  values (p_order_id, p_type, order_snapshot(p_order_id), p_correlation_id);
end
$$;
