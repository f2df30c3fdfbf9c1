import { describe, expect, test } from 'vitest';
import { kebabCase, sagaTasks } from '../../lib/saga-tasks.js';

/** An ASL `${name}` placeholder (built, so it does not read as a mistaken template literal). */
const placeholder = (name: string) => `\${${name}}`;

/** A minimal definition with the given states. */
function definition(states: Record<string, unknown>): string {
  return JSON.stringify({ StartAt: Object.keys(states)[0], States: states });
}

describe('reading the Lambda tasks of a saga definition', () => {
  test('each Task whose Resource is the <State>FunctionArn placeholder gets its handler file and timeout', () => {
    const tasks = sagaTasks(
      definition({
        AuthorizePayment: {
          Type: 'Task',
          Resource: placeholder('AuthorizePaymentFunctionArn'),
          TimeoutSeconds: 20,
          End: true,
        },
        Queue: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          Parameters: { QueueUrl: placeholder('CompensationQueueUrl') },
        },
      }),
    );

    expect(tasks).toEqual([
      {
        stateName: 'AuthorizePayment',
        substitution: 'AuthorizePaymentFunctionArn',
        entry: 'lambdas/saga/authorize-payment.ts',
        timeoutSeconds: 20,
      },
    ]);
  });

  test('refuses a Task without TimeoutSeconds', () => {
    expect(() =>
      sagaTasks(
        definition({
          ConfirmOrder: { Type: 'Task', Resource: placeholder('ConfirmOrderFunctionArn'), End: true },
        }),
      ),
    ).toThrow(/ConfirmOrder has no TimeoutSeconds/);
  });

  test('refuses a substitution named after another state', () => {
    expect(() =>
      sagaTasks(
        definition({
          ConfirmOrder: {
            Type: 'Task',
            Resource: placeholder('CancelOrderFunctionArn'),
            TimeoutSeconds: 10,
            End: true,
          },
        }),
      ),
    ).toThrow(/must use \$\{ConfirmOrderFunctionArn\}/);
  });

  test('refuses a placeholder the app does not provide', () => {
    expect(() =>
      sagaTasks(definition({ Wait: { Type: 'Pass', Result: placeholder('SomethingElse'), End: true } })),
    ).toThrow(/unknown substitution \$\{SomethingElse\}/);
  });

  test('state names become kebab-case file names', () => {
    expect(kebabCase('MarkRequiresAttention')).toBe('mark-requires-attention');
    expect(kebabCase('ReleaseReservations')).toBe('release-reservations');
  });
});
