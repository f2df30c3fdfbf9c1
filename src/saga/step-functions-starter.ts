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

/**
 * Starts and inspects executions of the deployed Standard state machine, named by order id. In AWS
 * the ARN it is given (`STATE_MACHINE_ARN`) is the state machine's `live` alias, so new executions
 * follow the alias's rollout; any other ARN it is given works the same.
 */
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

  private executionArn(orderId: string): string {
    return executionArn(this.stateMachineArn, orderId);
  }
}

/**
 * The ARN of the execution named `name` of a state machine, given the state machine's ARN or a
 * qualified one (`...:stateMachine:NAME:live`, an alias or a version): an execution started
 * through an alias or a version is still an execution of the state machine,
 * `arn:PARTITION:states:REGION:ACCOUNT:execution:NAME:<name>`.
 */
export function executionArn(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length < 7 || parts[5] !== 'stateMachine') {
    throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  }
  const [arn, partition, service, region, account, , machineName] = parts;
  return [arn, partition, service, region, account, 'execution', machineName, name].join(':');
}
