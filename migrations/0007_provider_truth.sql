-- The provider is the source of truth for money (docs/architecture.md, "Infrastructure faults").
--
-- 1. A capture can succeed at the provider while its record here fails (the database went away
--    between the two). Compensation then finds the capture at the provider and refunds it, so the
--    payment row may move from AUTHORIZED straight to REFUNDED: the refund is what the provider
--    holds, whatever this table last managed to record.
-- 2. A failed compensation keeps what the provider reported at its last attempt, so the audit row
--    (and the operator reading it) says what is held and what is left.

alter table failed_compensations add column provider_state jsonb;

create or replace function record_payment_outcome(p_order_id uuid, p_payment_status text, p_correlation_id text)
returns jsonb
language plpgsql
as $$
declare
  v_status text;
  v_payment text;
  v_allowed_from text[];
begin
  v_allowed_from := case p_payment_status
    when 'DECLINED' then array['PENDING']
    when 'VOIDED' then array['PENDING', 'AUTHORIZED']
    when 'REFUNDED' then array['AUTHORIZED', 'CAPTURED']
  end;
  if v_allowed_from is null then
    raise exception 'record_payment_outcome: unsupported payment status %', p_payment_status
      using errcode = 'invalid_parameter_value';
  end if;

  select o.status, p.status
  into v_status, v_payment
  from orders o
  join payments p on p.order_id = o.id
  where o.id = p_order_id
  for update of o, p;

  if not found then
    return transition_result('NOT_FOUND', null);
  end if;
  if v_payment = p_payment_status then
    return transition_result('UNCHANGED', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;
  if v_status not in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION') or not v_payment = any (v_allowed_from) then
    return transition_result('ILLEGAL_TRANSITION', v_status, jsonb_build_object('paymentStatus', v_payment));
  end if;

  update payments set status = p_payment_status, updated_at = now() where order_id = p_order_id;
  perform record_order_event(
    p_order_id, 'PAYMENT_' || p_payment_status,
    jsonb_build_object('from', v_payment, 'to', p_payment_status), p_correlation_id
  );
  return transition_result('APPLIED', v_status, jsonb_build_object('paymentStatus', p_payment_status));
end
$$;
