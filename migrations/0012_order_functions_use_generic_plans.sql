-- Every order function (all but the forbid_mutation trigger) runs its statements with generic
-- plans: `plan_cache_mode = force_generic_plan`, set on the function, so it applies while the
-- function runs and to the functions and foreign-key checks it calls, and never to the session
-- (nothing for RDS Proxy to pin, docs/adr/0009). `alter function ... set` adds the setting to the
-- ones 0008 gave (security definer, the fixed search_path) without restating any body.
--
-- Why: PL/pgSQL keeps each statement's plan for the connection, but under the default `auto` mode
-- a statement with parameters gets a custom plan for its first five runs and keeps getting one
-- whenever the generic plan's estimate is dearer than the custom plans' average. The array and
-- unnest statements of place_order always lose that comparison, so they were planned afresh on
-- every call: a profile of a place_order backend showed a fifth of its CPU in the planner
-- (BuildCachedPlan). Every statement in these functions finds its rows by key (order id, SKU,
-- customer id), for which the generic plan is the plan; docs/PERFORMANCE.md measures the change.
--
-- A function created or re-created later (`create or replace` drops the settings it does not
-- restate) states all three; test/db/application-role.test.ts checks every function for them.
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
