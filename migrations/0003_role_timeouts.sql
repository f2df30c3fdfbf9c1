-- Timeouts belong to the role, not to the session: a session-level SET would pin RDS Proxy
-- connections. Scoped to this database so other databases on the server are untouched.
-- Nothing on the checkout path legitimately runs for seconds; a statement that does is stuck.
do $$
begin
  execute format('alter role %I in database %I set statement_timeout = %L', current_user, current_database(), '5s');
  execute format('alter role %I in database %I set lock_timeout = %L', current_user, current_database(), '2s');
  execute format(
    'alter role %I in database %I set idle_in_transaction_session_timeout = %L',
    current_user, current_database(), '10s'
  );
end
$$;
