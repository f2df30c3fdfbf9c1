-- Every order function (all but the forbid_mutation trigger) runs its statements with generic
-- plans: `plan_cache_mode = force_generic_plan`, set on the function, so it applies while the
-- function runs and to the functions and foreign-key checks it calls, and never to the session
-- (nothing for RDS Proxy to pin, docs/adr/0009). `alter function ... set` adds the setting to the
-- ones 0008 gave (security definer, the fixed search_path) without restating the bodies; place_order,
-- re-created below, states all three (`create or replace` keeps its grants).
--
-- Why: PL/pgSQL keeps each statement's plan for the connection, but under the default `auto` mode
-- a statement with parameters gets a custom plan for its first five runs and keeps getting one
-- whenever the generic plan's estimate is dearer than the custom plans' average. The array and
-- unnest statements of place_order always lose that comparison, so they were planned afresh on
-- every call: a profile of a place_order backend showed a fifth of its CPU in the planner
-- (BuildCachedPlan). Every statement in these functions finds its rows by key (order id, SKU,
-- customer id), for which the generic plan is the plan; docs/PERFORMANCE.md measures the change.
--
-- One statement needed a new form for that: place_order read the cart's inventory and product rows
-- with `sku = any(v_skus)`, whose generic plan scans both tables (a custom plan knows the array
-- has one element; a generic one does not). It now reads them with a lateral join, one lookup by
-- key per line, the plan whatever the catalog's size; body, results, invariants and lock order are
-- otherwise 0009's. Every other statement here was checked in its generic plan (auto_explain):
-- index scans only.
--
-- A function created or re-created later (`create or replace` drops the settings it does not
-- restate) states all three; test/db/application-role.test.ts checks every function for them.
create or replace function place_order(
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
declare
  v_skus text[];
  v_quantities integer[];
  v_prices bigint[];
  v_unknown text[];
  v_wrong_currency text[];
  v_short jsonb;
  v_total bigint;
  v_charge bigint;
  v_snapshot jsonb;
  v_line integer;
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

  -- 1. Read, no locks: each line's inventory and product row by key (a lateral join, so the plan
  -- is index lookups per line whatever the catalog's size, and generic plans keep it; 0009 read
  -- `sku = any(...)`, which a generic plan reads by scanning both tables).
  select
    coalesce(array_agg(line.sku order by line.sku) filter (where i.sku is null), '{}'),
    coalesce(array_agg(line.sku order by line.sku) filter (where i.currency <> p_currency), '{}'),
    coalesce(
      jsonb_agg(
        jsonb_build_object('sku', line.sku, 'requested', line.quantity, 'available', i.on_hand - i.reserved)
        order by line.sku
      ) filter (where i.on_hand - i.reserved < line.quantity),
      '[]'::jsonb
    ),
    sum(line.quantity * i.price_cents),
    array_agg(i.price_cents order by line.sku)
  into v_unknown, v_wrong_currency, v_short, v_total, v_prices
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  left join lateral (
    -- Every inventory row has its product (foreign key): no row here is an unknown SKU.
    select inv.sku, inv.on_hand, inv.reserved, pr.currency, pr.price_cents
    from inventory inv
    join products pr on pr.sku = inv.sku
    where inv.sku = line.sku
  ) i on true;

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

  -- 2. Store credit.
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

  -- 3. New rows only.
  v_charge := v_total - p_store_credit_cents;

  insert into orders (id, customer_id, currency, total_cents, store_credit_cents, payment_method, correlation_id)
  values (p_order_id, p_customer_id, p_currency, v_total, p_store_credit_cents, p_payment_method, p_correlation_id);

  insert into order_items (order_id, sku, quantity, unit_price_cents)
  select p_order_id, line.sku, line.quantity, line.price_cents
  from unnest(v_skus, v_quantities, v_prices) as line (sku, quantity, price_cents);

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
  -- enqueue_outbox_event's insert, with the snapshot built once for the outbox and the result.
  v_snapshot := order_snapshot(p_order_id);
  insert into outbox_events (aggregate_id, type, payload, correlation_id)
  values (p_order_id, 'order.placed', v_snapshot, p_correlation_id);

  -- 4. The stock, last: each line locked, checked and reserved by one update, in SKU order.
  for v_line in 1 .. cardinality(v_skus) loop
    update inventory
    set reserved = reserved + v_quantities[v_line],
        updated_at = now()
    where sku = v_skus[v_line]
      and on_hand - reserved >= v_quantities[v_line];
    if not found then
      -- Another checkout took the stock since step 1; the row is not locked by us, so this is a read.
      raise exception 'OUT_OF_STOCK' using errcode = 'CK409', detail = jsonb_build_array(jsonb_build_object(
        'sku', v_skus[v_line],
        'requested', v_quantities[v_line],
        'available', (select on_hand - reserved from inventory where sku = v_skus[v_line])
      ))::text;
    end if;
  end loop;

  -- After the update, not in step 3: the foreign key to inventory takes a KEY SHARE lock on each
  -- row, which taken before our FOR UPDATE would let two checkouts deadlock upgrading it.
  insert into reservations (order_id, sku, quantity, expires_at)
  select p_order_id, line.sku, line.quantity, now() + p_reservation_ttl
  from unnest(v_skus, v_quantities) as line (sku, quantity);

  return jsonb_build_object('outcome', 'PLACED', 'order', v_snapshot);
end
$$;

do $$
declare
  v_function regprocedure;
begin
  for v_function in
    select p.oid::regprocedure
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and p.prokind = 'f'
      and p.prorettype <> 'trigger'::regtype
      and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
    order by p.oid
  loop
    execute format('alter function %s set plan_cache_mode = force_generic_plan', v_function);
  end loop;
end
$$;
