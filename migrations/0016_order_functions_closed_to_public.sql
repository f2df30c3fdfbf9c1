-- The three functions of 0015 closed to PUBLIC, and no function added later open to it
-- (docs/adr/0027-what-postgresql-spends-per-checkout.md).
--
-- PostgreSQL makes every new function executable by PUBLIC. 0008 revoked that from the functions
-- it found and ran `alter default privileges in schema public revoke execute on functions from
-- public`, which cannot take away what the global default grants: a per-schema default only adds.
-- 0013 and 0014 revoked it from their functions one by one; 0015 did not, so place_or_find_order,
-- capture_and_confirm and payment_step_view could be called by any role that can connect, not
-- only by the application role they were granted to. The owner's global default changes too, so
-- a function a later migration adds is executable only by the roles that migration grants it.

revoke execute on function place_or_find_order(uuid, text, text, text, bigint, text[], integer[], interval, text)
  from public;
revoke execute on function capture_and_confirm(uuid, text, text) from public;
revoke execute on function payment_step_view(uuid) from public;
alter default privileges revoke execute on functions from public;
