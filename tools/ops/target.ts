import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { createLocalSqsClient } from '../../local/aws/sqs.js';
import { type LocalStackState, STATE_FILE } from '../../local/stack-state.js';
import { type AdminClient, createAdminClient } from './admin-client.js';
import { OpsError } from './errors.js';

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
  try {
    return {
      name: 'the local stack',
      admin: createAdminClient(state.apiUrl, { kind: 'local' }),
      sqs,
      compensationQueue: await queueRef(sqs, state.compensationQueueArn, 'the local stack'),
      deadLetterQueue: await queueRef(sqs, state.compensationDlqArn, 'the local stack'),
      close: () => sqs.destroy(),
    };
  } catch (error) {
    sqs.destroy();
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
  const name = `stage ${stage}`;
  try {
    const region = await cloudFormation.config.region();
    const [stateful, stateless] = await Promise.all([
      stackOutputs(cloudFormation, `checkout-${stage}-stateful`, region),
      stackOutputs(cloudFormation, `checkout-${stage}-stateless`, region),
    ]);
    return {
      name,
      admin: createAdminClient(stateless.required('ApiUrl'), { kind: 'sigv4', region, credentials }),
      sqs,
      compensationQueue: await queueRef(sqs, stateful.required('CompensationQueueArn'), name),
      deadLetterQueue: await queueRef(sqs, stateful.required('CompensationDlqArn'), name),
      saga: { client: sfn, stateMachineArn: stateless.required('PaymentSagaArn') },
      close: () => {
        sqs.destroy();
        sfn.destroy();
      },
    };
  } catch (error) {
    sqs.destroy();
    sfn.destroy();
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
    required(key: string): string {
      const value = outputs.find((output) => output.OutputKey === key)?.OutputValue;
      if (!value) throw new OpsError(`stack ${stackName} has no output ${key}: deploy the current version`);
      return value;
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
