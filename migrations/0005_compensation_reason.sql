-- A failed compensation remembers why the order is being cancelled, so it can be queued again
-- (after a local restart, or by an operator) with everything the worker needs.
alter table failed_compensations add column cancellation_reason text;

drop function mark_requires_attention(uuid, text, jsonb, text, text);

create function mark_requires_attention(
  p_order_id uuid,
  p_compensation_id text,
  p_steps jsonb,
  p_error text,
  p_cancellation_reason text,
  p_correlation_id text
) returns jsonb
language plpgsql
as $$
declare
  v_status text;
begin
  select status into v_status from orders where id = p_order_id for update;
  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') then
    return transition_result('ILLEGAL_TRANSITION', v_status);
  end if;

  insert into failed_compensations (compensation_id, order_id, steps, last_error, cancellation_reason, correlation_id)
  values (p_compensation_id, p_order_id, p_steps, p_error, p_cancellation_reason, p_correlation_id)
  on conflict (compensation_id) do nothing;

  if v_status = 'REQUIRES_ATTENTION' then
    return transition_result('UNCHANGED', v_status);
  end if;
  perform set_order_status(
    p_order_id, v_status, 'REQUIRES_ATTENTION', 'ORDER_REQUIRES_ATTENTION',
    jsonb_build_object('compensationId', p_compensation_id, 'error', p_error), p_correlation_id
  );
  perform enqueue_outbox_event(p_order_id, 'compensation.failed', p_correlation_id);
  return transition_result('APPLIED', 'REQUIRES_ATTENTION');
end
$$;
