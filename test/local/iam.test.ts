import { describe, expect, test } from 'vitest';
import { awsRequestOf, isAllowed } from '../../local/lambda/iam.js';
import type { PolicyStatement } from '../../local/lambda/template.js';

const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/ApiIdempotency-Table';

const allow = (actions: string[], resources: string[]): PolicyStatement => ({
  effect: 'Allow',
  actions,
  resources,
});

describe('local IAM: evaluating a role policy', () => {
  test('an action granted on the resource is allowed', () => {
    const statements = [allow(['dynamodb:GetItem', 'dynamodb:PutItem'], [TABLE])];

    expect(isAllowed(statements, 'dynamodb:PutItem', TABLE)).toBe(true);
  });

  test('nothing granted is denied: another action, another resource, no statements', () => {
    const statements = [allow(['dynamodb:GetItem'], [TABLE])];

    expect(isAllowed(statements, 'dynamodb:DeleteItem', TABLE)).toBe(false);
    expect(isAllowed(statements, 'dynamodb:GetItem', `${TABLE}-other`)).toBe(false);
    expect(isAllowed([], 'dynamodb:GetItem', TABLE)).toBe(false);
  });

  test('wildcards: * and ? in resources, actions compared without case', () => {
    const executions = 'arn:aws:states:us-east-1:123456789012:execution:checkout-dev-payment-saga:*';
    const statements = [allow(['states:describeexecution'], [executions]), allow(['sqs:Send?essage'], ['*'])];

    expect(isAllowed(statements, 'states:DescribeExecution', `${executions.slice(0, -1)}order-1`)).toBe(true);
    expect(
      isAllowed(
        statements,
        'states:DescribeExecution',
        'arn:aws:states:us-east-1:123456789012:execution:other:1',
      ),
    ).toBe(false);
    expect(isAllowed(statements, 'sqs:SendMessage', 'arn:aws:sqs:us-east-1:123456789012:q')).toBe(true);
  });

  test('an explicit Deny wins over any Allow', () => {
    const statements: PolicyStatement[] = [
      allow(['dynamodb:*'], ['*']),
      { effect: 'Deny', actions: ['dynamodb:DeleteItem'], resources: [TABLE] },
    ];

    expect(isAllowed(statements, 'dynamodb:DeleteItem', TABLE)).toBe(false);
    expect(isAllowed(statements, 'dynamodb:PutItem', TABLE)).toBe(true);
  });
});

describe('local IAM: what a request asks for', () => {
  test('DynamoDB: the action from the target, the table from TableName or RequestItems', () => {
    expect(awsRequestOf('dynamodb', 'UpdateItem', { TableName: 'ApiIdempotency-Table' })).toEqual({
      action: 'dynamodb:UpdateItem',
      resources: [TABLE],
    });
    expect(
      awsRequestOf('dynamodb', 'BatchWriteItem', { RequestItems: { 'ApiIdempotency-Table': [] } }).resources,
    ).toEqual([TABLE]);
  });

  test('SQS: the queue ARN from the queue URL; batch calls need the single action', () => {
    expect(
      awsRequestOf('sqs', 'SendMessageBatch', {
        QueueUrl: 'http://127.0.0.1:9324/123456789012/CompensationQueue-Queue',
      }),
    ).toEqual({
      action: 'sqs:SendMessage',
      resources: ['arn:aws:sqs:us-east-1:123456789012:CompensationQueue-Queue'],
    });
  });

  test('Step Functions: the state machine or execution ARN in the body', () => {
    const alias = 'arn:aws:states:us-east-1:123456789012:stateMachine:checkout-dev-payment-saga:live';

    expect(awsRequestOf('states', 'StartExecution', { stateMachineArn: alias })).toEqual({
      action: 'states:StartExecution',
      resources: [alias],
    });
  });
});
