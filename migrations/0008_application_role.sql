-- Two roles (docs/runbooks/database-roles.md): the owner, who runs these migrations, and
-- checkout_app, whom every function connects as. checkout_app can do what the service does and
-- nothing else: no DDL, and no direct write to stock, orders, payments, wallets or their audit
-- trails. Those change only through the order functions, which run with the owner's rights
-- (security definer) and keep the invariants.
--
-- The role is created without a password: whoever runs the migrations sets it afterwards
-- (src/db/roles.ts), from Secrets Manager in AWS (the secret RDS Proxy logs in with) and from a
-- generated local value in local mode. Roles belong to the whole server while grants belong to
-- this database, so every database migrated on a server shares the role and gets its own grants.
do $$
begin
  create role checkout_app login;
exception
  -- Another database on this server created it first (concurrently: a unique violation).
  when duplicate_object or unique_violation then null;
end
$$;

-- What the role may reach at all: this database, the public schema, no temporary tables (a temp
-- table shadowing a table would be found first by code without a fixed search path).
do $$
begin
  execute format('revoke all on database %I from public', current_database());
  execute format('grant connect on database %I to checkout_app', current_database());
end
$$;
revoke create on schema public from public;
grant usage on schema public to checkout_app;

-- Reads the service makes directly, and the writes that have no order function: the admin API's
-- product upsert (on-hand only, never `reserved`), the sweeper's recovery lease, the compensation
-- audit's attempts, and the outbox relay's delivery bookkeeping.
grant select, insert on products to checkout_app;
grant update (name, price_cents, currency, updated_at) on products to checkout_app;
grant select on inventory to checkout_app;
grant insert (sku, on_hand) on inventory to checkout_app;
grant update (on_hand, updated_at) on inventory to checkout_app;
grant select on store_credit_wallets to checkout_app;
grant select on orders to checkout_app;
grant update (recovery_lease_until) on orders to checkout_app;
grant select on reservations to checkout_app;
grant select on failed_compensations to checkout_app;
grant update (status, attempts, last_error, provider_state, updated_at, resolved_at) on failed_compensations to checkout_app;
grant select on outbox_events to checkout_app;
grant update (next_attempt_at, published_at, attempts, last_error) on outbox_events to checkout_app;

-- Every function of this schema runs with its owner's rights and a fixed search path; the
-- order functions are the role's way to change state, the internal helpers (and triggers) are
-- not callable by it at all. A function added by a later migration is not executable by the
-- role until that migration grants it.
revoke execute on all functions in schema public from public;
alter default privileges in schema public revoke execute on functions from public;
do $$
declare
  fn record;
begin
  for fn in
    select p.oid::regprocedure as signature, p.proname as name
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public'
      and p.prokind = 'f'
      and p.prorettype <> 'trigger'::regtype
      and pg_get_userbyid(p.proowner) = current_user
      and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
  loop
    execute format('alter function %s security definer set search_path = public, pg_temp', fn.signature);
    if fn.name not in ('transition_result', 'set_order_status', 'record_order_event', 'enqueue_outbox_event') then
      execute format('grant execute on function %s to checkout_app', fn.signature);
    end if;
  end loop;
end
$$;

-- The role-level timeouts of 0003 belong to the role the functions run as; the owner runs only
-- migrations, which set their own.
do $$
begin
  execute format('alter role checkout_app in database %I set statement_timeout = %L', current_database(), '5s');
  execute format('alter role checkout_app in database %I set lock_timeout = %L', current_database(), '2s');
  execute format(
    'alter role checkout_app in database %I set idle_in_transaction_session_timeout = %L',
    current_database(), '10s'
  );
  execute format('alter role %I in database %I reset statement_timeout', current_user, current_database());
  execute format('alter role %I in database %I reset lock_timeout', current_user, current_database());
  execute format(
    'alter role %I in database %I reset idle_in_transaction_session_timeout', current_user, current_database()
  );
end
$$;
