import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type SagaInput, SagaStartError, type SagaStarter } from './saga-starter.js';

/** Starts executions of the deployed Standard state machine, named by order id. */
export class StepFunctionsSagaStarter implements SagaStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: SagaInput): Promise<{ alreadyStarted: boolean }> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: input.orderId,
          input: JSON.stringify(input),
        }),
      );
      return { alreadyStarted: false };
    } catch (error) {
      // Same name and same input within 90 days answers success in AWS; a different input is
      // ExecutionAlreadyExists. Either way the order's one execution exists.
      if (error instanceof ExecutionAlreadyExists) return { alreadyStarted: true };
      throw new SagaStartError(`could not start the payment saga of order ${input.orderId}`, {
        cause: error,
      });
    }
  }
}
