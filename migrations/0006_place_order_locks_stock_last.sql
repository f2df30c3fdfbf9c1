-- place_order, reordered so the hot inventory rows are locked last and for the shortest time.
--
-- 0002's version locked the cart's inventory rows first and kept them locked through every insert
-- of the order and the commit, so a hot SKU's row lock lasted the whole function. Now:
--   1. read without locks: unknown SKUs, currency, price, and a first stock check (a stampede's
--      losers are turned away here without taking any lock);
--   2. debit store credit (the customer's own wallet row);
--   3. write the order, items, payment, ledger entry, audit and outbox rows (new rows only: nothing
--      shared is locked);
--   4. lock the inventory rows in SKU order, check the stock again (now exact) and reserve it. If
--      another checkout took the stock since step 1, raise OUT_OF_STOCK (SQLSTATE CK409, the short
--      lines as JSON in DETAIL): the whole call rolls back, and the caller maps it to the same
--      typed result as a refusal at step 1. The reservation rows are inserted after the update.
-- Lock order stays deadlock-free: wallet, then inventory rows in SKU order; no other function
-- locks inventory and then a wallet.
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

  -- 1. Read, no locks.
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
  select p_order_id, line.sku, line.quantity, pr.price_cents
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  join products pr on pr.sku = line.sku;

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

  -- 4. The stock, last: locked in SKU order, reserved only where it is still available.
  perform 1
  from inventory
  where sku = any (v_skus)
  order by sku
  for update;

  -- Under the locks the numbers are exact: another checkout may have taken the stock since step 1.
  select coalesce(
    jsonb_agg(
      jsonb_build_object('sku', line.sku, 'requested', line.quantity, 'available', i.on_hand - i.reserved)
      order by line.sku
    ) filter (where i.on_hand - i.reserved < line.quantity),
    '[]'::jsonb
  )
  into v_short
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  join inventory i on i.sku = line.sku;
  if jsonb_array_length(v_short) > 0 then
    raise exception 'OUT_OF_STOCK' using errcode = 'CK409', detail = v_short::text;
  end if;

  update inventory i
  set reserved = i.reserved + line.quantity,
      updated_at = now()
  from unnest(v_skus, v_quantities) as line (sku, quantity)
  where i.sku = line.sku;

  -- After the update, not in step 3: the foreign key to inventory takes a KEY SHARE lock on each
  -- row, which taken before our FOR UPDATE would let two checkouts deadlock upgrading it.
  insert into reservations (order_id, sku, quantity, expires_at)
  select p_order_id, line.sku, line.quantity, now() + p_reservation_ttl
  from unnest(v_skus, v_quantities) as line (sku, quantity);

  return jsonb_build_object('outcome', 'PLACED', 'order', order_snapshot(p_order_id));
end
$$;
