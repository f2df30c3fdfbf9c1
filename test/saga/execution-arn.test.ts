import { describe, expect, test } from 'vitest';
import { executionArn } from '../../src/saga/step-functions-starter.js';

describe('the execution ARN of an order', () => {
  const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:checkout-prod-payment-saga';
  const execution = 'arn:aws:states:eu-west-1:123456789012:execution:checkout-prod-payment-saga:order-1';

  test('is an execution of the state machine, named by the order id', () => {
    expect(executionArn(machine, 'order-1')).toBe(execution);
  });

  test('is the same when executions start through the live alias or a version', () => {
    expect(executionArn(`${machine}:live`, 'order-1')).toBe(execution);
    expect(executionArn(`${machine}:7`, 'order-1')).toBe(execution);
  });

  test('keeps the partition of the ARN', () => {
    expect(executionArn('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:saga:live', 'o')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:execution:saga:o',
    );
  });

  test('refuses an ARN that is not a state machine', () => {
    expect(() => executionArn('arn:aws:lambda:eu-west-1:123456789012:function:f', 'o')).toThrow(
      /not a state machine ARN/,
    );
  });
});
