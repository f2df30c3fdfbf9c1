import * as z from '../runtime/schema.js';

/** The fields every saga task receives; steps that need more extend it. */
export const stepInput = z.looseObject({
  orderId: z.uuid(),
  correlationId: z.string().check(z.minLength(1), z.maxLength(200)),
});

/** Malformed task input: a bug in the state machine, not something a retry can fix. */
export class InvalidTaskInputError extends Error {
  override readonly name = 'InvalidTaskInputError';
}
