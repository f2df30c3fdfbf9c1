import { readFileSync } from 'node:fs';
import path from 'node:path';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, test } from 'vitest';
import {
  COMPENSATION_STEPS,
  compensationMessage,
  compensationMessageOf,
  parseCompensationMessage,
} from '../../src/saga/compensation-message.js';

/**
 * The compensation message is declared once (src/saga/compensation-message.ts). The ASL builds it
 * in its own language, so this runs the `MessageBody` of the saga's QueueCompensation state through
 * the Step Functions interpreter and holds what comes out to the declaration: nothing missing,
 * nothing extra, every value valid.
 */
const ASL = path.resolve(import.meta.dirname, '../../statemachines/payment-saga.asl.json');

function queueCompensationBody(): Record<string, unknown> {
  const definition = JSON.parse(readFileSync(ASL, 'utf8')) as {
    States: Record<string, { Parameters?: { MessageBody?: Record<string, unknown> } }>;
  };
  const body = definition.States.QueueCompensation?.Parameters?.MessageBody;
  if (!body) throw new Error('QueueCompensation has no MessageBody');
  return body;
}

/** What the ASL's MessageBody evaluates to for `input` (the state input QueueCompensation sees). */
async function messageBodyFor(input: Record<string, unknown>): Promise<unknown> {
  const machine = new StateMachine({
    StartAt: 'MessageBody',
    States: { MessageBody: { Type: 'Pass', Parameters: queueCompensationBody(), End: true } },
  } as unknown as StateMachineDefinition);
  return machine.run(input as never).result;
}

/** A compensation step's Catch leaves this behind: the saga input, what is left, and the error. */
const failedCompensation = {
  orderId: '0b9f5ef8-2f8e-4f4e-9a57-6a6f0e2b1c3d',
  correlationId: 'corr-compensation-message',
  chargeCents: 2400,
  cancellationReason: 'PAYMENT_CAPTURE_FAILED',
  remainingSteps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
  compensationFailure: { Error: 'PaymentProviderTransientError', Cause: '{"errorMessage":"void failed"}' },
};

describe('the compensation message, declared once', () => {
  test("the ASL's QueueCompensation sends exactly the declared message", async () => {
    const body = await messageBodyFor(failedCompensation);

    expect(Object.keys(body as object).sort()).toEqual(Object.keys(compensationMessage.shape).sort());
    expect(compensationMessage.parse(body)).toEqual({
      compensationId: `${failedCompensation.orderId}:compensation`,
      orderId: failedCompensation.orderId,
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      error: 'PaymentProviderTransientError',
      correlationId: failedCompensation.correlationId,
    });
  });

  test('a message built from the audit row (a retry, the sweeper) is the same message', async () => {
    const fromSaga = compensationMessage.parse(await messageBodyFor(failedCompensation));
    const fromRow = compensationMessageOf({
      compensationId: fromSaga.compensationId,
      orderId: fromSaga.orderId,
      steps: fromSaga.steps,
      cancellationReason: fromSaga.cancellationReason,
      lastError: 'PaymentProviderTransientError: void failed: provider answered 503',
      correlationId: fromSaga.correlationId,
    });

    expect(compensationMessage.parse(fromRow)).toEqual(fromSaga);
  });

  test('the worker refuses a body that is not the message, naming the record', () => {
    expect(() => parseCompensationMessage('not json', 'm-1')).toThrow(/message m-1 is not JSON/);
    expect(() =>
      parseCompensationMessage(JSON.stringify({ orderId: failedCompensation.orderId, steps: [] }), 'm-2'),
    ).toThrow(expect.objectContaining({ name: 'InvalidCompensationMessageError' }));
    expect(COMPENSATION_STEPS).toContain('REVERSE_PAYMENT');
  });
});
