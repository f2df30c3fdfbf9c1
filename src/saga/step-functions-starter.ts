import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  type SagaExecutionState,
  type SagaInput,
  type SagaInspector,
  SagaStartError,
  type SagaStarter,
} from './saga-starter.js';

/** Starts and inspects executions of the deployed Standard state machine, named by order id. */
export class StepFunctionsSagaStarter implements SagaStarter, SagaInspector {
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

  async executionState(orderId: string): Promise<SagaExecutionState> {
    try {
      const execution = await this.client.send(
        new DescribeExecutionCommand({ executionArn: this.executionArn(orderId) }),
      );
      return (execution.status ?? 'RUNNING') as SagaExecutionState;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'NOT_FOUND';
      throw error;
    }
  }

  /** arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> arn:aws:states:REGION:ACCOUNT:execution:NAME:ORDER */
  private executionArn(orderId: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${orderId}`;
  }
}
