-- Checkout schema. Invariants live here as constraints so that no code path, present or future,
-- can oversell stock, overdraw a wallet or invent an order status.
-- Keys are uuids from gen_random_uuid(): sequences (nextval) would pin RDS Proxy connections.

create table products (
  sku text primary key,
  name text not null,
  price_cents bigint not null,
  currency text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint products_sku_format check (sku ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  constraint products_name_length check (char_length(name) between 1 and 200),
  constraint products_price_non_negative check (price_cents >= 0),
  constraint products_currency_iso check (currency ~ '^[A-Z]{3}$')
);

-- available = on_hand - reserved; reserved stock leaves on_hand only when its order is confirmed.
create table inventory (
  sku text primary key references products (sku),
  on_hand integer not null default 0,
  reserved integer not null default 0,
  updated_at timestamptz not null default now(),
  constraint inventory_on_hand_non_negative check (on_hand >= 0),
  constraint inventory_reserved_non_negative check (reserved >= 0),
  constraint inventory_reserved_within_on_hand check (reserved <= on_hand)
);

create table store_credit_wallets (
  customer_id text primary key,
  balance_cents bigint not null default 0,
  updated_at timestamptz not null default now(),
  constraint wallets_customer_id_length check (char_length(customer_id) between 1 and 128),
  constraint wallets_balance_non_negative check (balance_cents >= 0)
);

create table orders (
  id uuid primary key,
  customer_id text not null,
  status text not null default 'PENDING',
  currency text not null,
  total_cents bigint not null,
  store_credit_cents bigint not null default 0,
  charge_cents bigint generated always as (total_cents - store_credit_cents) stored,
  payment_method text not null,
  cancellation_reason text,
  correlation_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint orders_status_valid
    check (status in ('PENDING', 'AUTHORIZED', 'CONFIRMED', 'CANCELLED', 'REQUIRES_ATTENTION')),
  constraint orders_total_non_negative check (total_cents >= 0),
  constraint orders_credit_within_total check (store_credit_cents between 0 and total_cents),
  constraint orders_cancelled_with_reason check (status <> 'CANCELLED' or cancellation_reason is not null)
);

-- GET /v1/orders/{id} reads by primary key; listing and support queries go by customer.
create index orders_customer_status_created_idx on orders (customer_id, status, created_at);
-- The crash-recovery sweeper scans only orders still in flight.
create index orders_in_flight_idx on orders (updated_at) where status in ('PENDING', 'AUTHORIZED');

create table order_items (
  order_id uuid not null references orders (id),
  sku text not null references products (sku),
  quantity integer not null,
  unit_price_cents bigint not null,
  primary key (order_id, sku),
  constraint order_items_quantity_positive check (quantity > 0),
  constraint order_items_price_non_negative check (unit_price_cents >= 0)
);

create table reservations (
  order_id uuid not null references orders (id),
  sku text not null references inventory (sku),
  quantity integer not null,
  status text not null default 'HELD',
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (order_id, sku),
  constraint reservations_quantity_positive check (quantity > 0),
  constraint reservations_status_valid check (status in ('HELD', 'COMMITTED', 'RELEASED'))
);

create index reservations_held_expiry_idx on reservations (expires_at) where status = 'HELD';

create table payments (
  order_id uuid primary key references orders (id),
  status text not null,
  amount_cents bigint not null,
  payment_method text not null,
  authorization_id text,
  updated_at timestamptz not null default now(),
  constraint payments_status_valid check (
    status in ('NOT_REQUIRED', 'PENDING', 'AUTHORIZED', 'CAPTURED', 'DECLINED', 'VOIDED', 'REFUNDED')
  ),
  constraint payments_amount_non_negative check (amount_cents >= 0),
  constraint payments_authorized_has_id
    check (status not in ('AUTHORIZED', 'CAPTURED', 'REFUNDED') or authorization_id is not null)
);

-- The wallet ledger: every balance change is one row, so balance = sum(amount_cents) per customer.
-- The idempotency key makes a repeated debit or refund a no-op instead of a second movement.
create table wallet_transactions (
  id uuid primary key default gen_random_uuid(),
  customer_id text not null references store_credit_wallets (customer_id),
  order_id uuid references orders (id),
  kind text not null,
  amount_cents bigint not null,
  idempotency_key text not null,
  created_at timestamptz not null default now(),
  constraint wallet_transactions_idempotency_key_unique unique (idempotency_key),
  constraint wallet_transactions_kind_valid check (kind in ('ADJUSTMENT', 'DEBIT', 'REFUND')),
  constraint wallet_transactions_amount_non_zero check (amount_cents <> 0),
  constraint wallet_transactions_debit_negative check (kind <> 'DEBIT' or amount_cents < 0),
  constraint wallet_transactions_refund_positive check (kind <> 'REFUND' or amount_cents > 0)
);

create index wallet_transactions_customer_idx on wallet_transactions (customer_id);

-- Append-only audit of every state change of an order.
create table order_events (
  id uuid primary key default gen_random_uuid(),
  order_id uuid not null references orders (id),
  type text not null,
  from_status text,
  to_status text,
  detail jsonb not null default '{}',
  correlation_id text,
  created_at timestamptz not null default clock_timestamp()
);

create index order_events_order_idx on order_events (order_id, created_at);

-- Transactional outbox: written in the same transaction as the change it announces.
create table outbox_events (
  id uuid primary key default gen_random_uuid(),
  aggregate_id uuid not null,
  type text not null,
  payload jsonb not null,
  correlation_id text,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  published_at timestamptz
);

create index outbox_events_unpublished_idx on outbox_events (next_attempt_at) where published_at is null;

-- The audit view of compensations that failed inside the saga and went to the compensation queue.
create table failed_compensations (
  compensation_id text primary key,
  order_id uuid not null references orders (id),
  steps jsonb not null,
  status text not null default 'PENDING',
  attempts integer not null default 0,
  last_error text,
  correlation_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  resolved_at timestamptz,
  constraint failed_compensations_status_valid
    check (status in ('PENDING', 'RETRYING', 'RESOLVED', 'FAILED')),
  constraint failed_compensations_resolved_at
    check ((status = 'RESOLVED') = (resolved_at is not null))
);

create index failed_compensations_status_idx on failed_compensations (status, created_at);
create index failed_compensations_order_idx on failed_compensations (order_id);

create function forbid_mutation() returns trigger
language plpgsql
as $$
begin
  raise exception '% is append-only', tg_table_name using errcode = 'restrict_violation';
end
$$;

create trigger order_events_append_only
  before update or delete on order_events
  for each row execute function forbid_mutation();

create trigger wallet_transactions_append_only
  before update or delete on wallet_transactions
  for each row execute function forbid_mutation();
