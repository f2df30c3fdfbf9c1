import type { SQSClient } from '@aws-sdk/client-sqs';
import { forEachState, loadAslDefinition, substituteDefinition } from '../aws/asl.js';
import { createLocalStateMachine, type LocalStateMachine, type TaskHandler } from '../aws/step-functions.js';
import { sagaRetryIntervalScale } from '../saga.js';
import type { UsageMeter } from '../usage.js';
import type { LocalFunctions } from './functions.js';
import type { TemplateStateMachine } from './template.js';

export interface TemplateStateMachineOptions {
  readonly stateMachine: TemplateStateMachine;
  readonly functions: LocalFunctions;
  /** Signed as the state machine's role, so its `sqs:sendMessage` tasks are checked against it. */
  readonly sqsClient: SQSClient;
  /** `LOCAL_TIME_SCALE`: shrinks every Retry interval (see local/saga.ts). */
  readonly retryIntervalScale: number;
  readonly usage?: UsageMeter;
}

/**
 * The template's state machine on the local interpreter: its definition and substitutions as
 * synthesized, each Lambda Task invoking the function its resolved `Resource` names, in that
 * function's containers, as the state machine's role (a role without `lambda:InvokeFunction` on
 * it fails the Task with `Lambda.AWSLambdaException`, as on AWS).
 */
export function createTemplateStateMachine(options: TemplateStateMachineOptions): LocalStateMachine {
  const { stateMachine, functions } = options;
  const definition = loadAslDefinition(JSON.parse(stateMachine.definition) as object);
  const resolved = substituteDefinition(definition, stateMachine.substitutions);
  const taskHandlers: Record<string, TaskHandler> = {};
  forEachState(resolved, (stateName, state) => {
    const resource = String(state.Resource ?? '');
    if (state.Type !== 'Task' || !resource.startsWith('arn:aws:lambda:')) return;
    taskHandlers[stateName] = (input) =>
      functions.invokeAs(stateMachine.role, resource, input).catch((error: unknown) => {
        if (error instanceof Error && error.name === 'AccessDeniedException') {
          // Step Functions reports a refused Invoke as a Lambda service error, the message kept.
          error.name = 'Lambda.AWSLambdaException';
        }
        throw error;
      });
  });
  return createLocalStateMachine({
    definition,
    substitutions: stateMachine.substitutions,
    stateMachineName: stateMachine.name,
    taskHandlers,
    sqsClient: options.sqsClient,
    retryIntervalScale: sagaRetryIntervalScale(options.retryIntervalScale),
    ...(options.usage ? { usage: options.usage } : {}),
  });
}
