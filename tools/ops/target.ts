import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { createLocalSqsClient } from '../../local/aws/sqs.js';
import { type LocalStackState, STATE_FILE } from '../../local/stack-state.js';
import { type AdminClient, createAdminClient } from './admin-client.js';
import { OpsError } from './errors.js';
import type { SwitchControls } from './switches.js';

/** A queue as the commands need it: its URL for messages, its ARN for move tasks. */
export interface QueueRef {
  readonly url: string;
  readonly arn: string;
}

/** Everything the commands talk to, for the local stack or one deployed stage. */
export interface OpsTarget {
  /** For messages: "the local stack", "stage prod". */
  readonly name: string;
  readonly admin: AdminClient;
  readonly sqs: SQSClient;
  readonly compensationQueue: QueueRef;
  readonly deadLetterQueue: QueueRef;
  /** The payment saga in AWS; undefined locally (see `redrive-execution`). */
  readonly saga?: { readonly client: SFNClient; readonly stateMachineArn: string };
  /** The kill switches and the operator log; undefined when the stage predates them. */
  readonly controls?: SwitchControls;
  close(): void;
}

/**
 * The running local stack, found through the connection details it leaves in its data folder
 * (`LOCAL_DATA_DIR`, default `.local-data`).
 */
export async function localTarget(dataDir: string): Promise<OpsTarget> {
  let state: LocalStackState;
  try {
    state = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as LocalStackState;
  } catch {
    throw new OpsError(
      `no local stack found in ${dataDir}: start it with npm start (or set LOCAL_DATA_DIR), or name a deployed stage with --stage`,
    );
  }
  const sqs = createLocalSqsClient(state.sqsEndpoint);
  const controls = state.switches ? localControls(state.switches) : undefined;
  const close = () => {
    sqs.destroy();
    controls?.close();
  };
  try {
    return {
      name: 'the local stack',
      admin: createAdminClient(state.apiUrl, { kind: 'local' }),
      sqs,
      compensationQueue: await queueRef(sqs, state.compensationQueueArn, 'the local stack'),
      deadLetterQueue: await queueRef(sqs, state.compensationDlqArn, 'the local stack'),
      ...(controls ? { controls: controls.controls } : {}),
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/**
 * A deployed stage: its stacks' outputs read with CloudFormation DescribeStacks, clients with the
 * default credential chain and region (AWS_PROFILE, AWS_REGION, ...), admin calls SigV4-signed.
 */
export async function stageTarget(stage: string): Promise<OpsTarget> {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(stage)) {
    throw new OpsError(
      `--stage ${JSON.stringify(stage)} is not a stage name (lowercase letters, digits, -)`,
      2,
    );
  }
  const credentials = defaultProvider();
  const cloudFormation = new CloudFormationClient({ credentials });
  const sqs = new SQSClient({ credentials });
  const sfn = new SFNClient({ credentials });
  const dynamodb = new DynamoDBClient({ credentials });
  const lambda = new LambdaClient({ credentials });
  const scheduler = new SchedulerClient({ credentials });
  const sts = new STSClient({ credentials });
  const clients = [sqs, sfn, dynamodb, lambda, scheduler, sts];
  const name = `stage ${stage}`;
  try {
    const region = await cloudFormation.config.region();
    const [stateful, stateless] = await Promise.all([
      stackOutputs(cloudFormation, `checkout-${stage}-stateful`, region),
      stackOutputs(cloudFormation, `checkout-${stage}-stateless`, region),
    ]);
    const tableName = stateful.optional('OperatorControlsTableName');
    const workerMappingId = stateless.optional('CompensationWorkerMappingId');
    const jobSchedules = stateless.optional('JobScheduleNames');
    return {
      name,
      admin: createAdminClient(stateless.required('ApiUrl'), { kind: 'sigv4', region, credentials }),
      sqs,
      compensationQueue: await queueRef(sqs, stateful.required('CompensationQueueArn'), name),
      deadLetterQueue: await queueRef(sqs, stateful.required('CompensationDlqArn'), name),
      saga: { client: sfn, stateMachineArn: stateless.required('PaymentSagaArn') },
      ...(tableName && workerMappingId && jobSchedules
        ? {
            controls: {
              dynamodb,
              tableName,
              lambda,
              scheduler,
              workerMappingId,
              jobScheduleNames: jobSchedules.split(','),
              whoAmI: async () => {
                const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
                return Arn ?? 'unknown';
              },
            },
          }
        : {}),
      close: () => {
        for (const client of clients) client.destroy();
      },
    };
  } catch (error) {
    for (const client of clients) client.destroy();
    throw asOpsError(error, name);
  } finally {
    cloudFormation.destroy();
  }
}

async function stackOutputs(client: CloudFormationClient, stackName: string, region: string) {
  let outputs: Output[];
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if (error instanceof Error && /does not exist/.test(error.message)) {
      throw new OpsError(`stack ${stackName} does not exist in ${region}: check --stage and AWS_REGION`);
    }
    throw error;
  }
  return {
    optional(key: string): string | undefined {
      return outputs.find((output) => output.OutputKey === key)?.OutputValue || undefined;
    },
    required(key: string): string {
      const value = outputs.find((output) => output.OutputKey === key)?.OutputValue;
      if (!value) throw new OpsError(`stack ${stackName} has no output ${key}: deploy the current version`);
      return value;
    },
  };
}

/** The local stack's switches: its DynamoDB and its Lambda and Scheduler stand-in, as an administrator. */
function localControls(state: LocalStackState['switches']): { controls: SwitchControls; close(): void } {
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...local, endpoint: state.dynamoDbEndpoint });
  const lambda = new LambdaClient({ ...local, endpoint: state.controlPlaneEndpoint });
  const scheduler = new SchedulerClient({ ...local, endpoint: state.controlPlaneEndpoint });
  return {
    controls: {
      dynamodb,
      tableName: state.operatorControlsTableName,
      lambda,
      scheduler,
      workerMappingId: state.compensationWorkerMappingId,
      jobScheduleNames: state.jobScheduleNames,
      // No IAM locally: the operator is the user running the command.
      whoAmI: async () => `local:${userInfo().username}`,
    },
    close: () => {
      for (const client of [dynamodb, lambda, scheduler]) client.destroy();
    },
  };
}

/** arn:aws:sqs:REGION:ACCOUNT:NAME -> its URL, asked of SQS (the URL format is not a contract). */
async function queueRef(sqs: SQSClient, arn: string, target: string): Promise<QueueRef> {
  const [, , , , account, queueName] = arn.split(':');
  if (!account || !queueName) throw new OpsError(`${arn} is not an SQS queue ARN`);
  try {
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: account }),
    );
    if (!QueueUrl) throw new OpsError(`SQS returned no URL for ${arn}`);
    return { url: QueueUrl, arn };
  } catch (error) {
    throw asOpsError(error, target);
  }
}

/** SDK failures as one line: credentials, network and service errors keep their own message. */
export function asOpsError(error: unknown, target: string): OpsError {
  if (error instanceof OpsError) return error;
  if (!(error instanceof Error)) return new OpsError(`${target}: ${String(error)}`);
  if (error.name === 'CredentialsProviderError') {
    return new OpsError(`no AWS credentials for ${target}: ${error.message}`, 1, { cause: error });
  }
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || error.name === 'TimeoutError') {
    return new OpsError(`cannot reach AWS for ${target}: ${error.message} (is the stack running?)`, 1, {
      cause: error,
    });
  }
  return new OpsError(`${target}: ${error.name}: ${error.message}`, 1, { cause: error });
}
