import { describe, expect, test } from 'vitest';
import { MeterResetError, usageBetween } from '../../bench/lib/cost.js';

describe('usage between two snapshots of the stack meter', () => {
  test('is what was counted in between, without the counters that did not move', () => {
    const before = {
      counts: { 'apiGateway.placeOrder': 10, 'sqs.SendMessage': 2 },
      lambda: { 'checkout-placeOrder': { invocations: 10, billedMs: 200 } },
    };
    const after = {
      counts: { 'apiGateway.placeOrder': 13, 'sqs.SendMessage': 2, 'dynamodb.PutItem': 3 },
      lambda: { 'checkout-placeOrder': { invocations: 13, billedMs: 290 } },
    };

    const usage = usageBetween(before, after);

    expect(usage).toEqual({
      counts: { 'apiGateway.placeOrder': 3, 'dynamodb.PutItem': 3 },
      lambda: { 'checkout-placeOrder': { invocations: 3, billedMs: 90 } },
    });
  });

  test('refuses snapshots across a restart of the stack, whose meter starts again from zero', () => {
    const before = { counts: { 'apiGateway.placeOrder': 10 }, lambda: {} };
    const after = { counts: { 'apiGateway.placeOrder': 4 }, lambda: {} };

    expect(() => usageBetween(before, after)).toThrow(MeterResetError);
  });
});
