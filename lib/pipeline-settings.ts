import { DEFAULT_REGION, SYNTH_ONLY_ACCOUNT } from './checkout-app.js';

/**
 * Where the delivery pipeline lives and what it watches (docs/deploy.md, "The delivery pipeline").
 * Read from the CDK context, so they belong in `cdk.json` (committed): the pipeline synthesizes
 * itself from the repository on every run, and a value given only on one laptop's command line
 * would be gone on the next run. None of them is a secret: the connection is authorised once in
 * the console, and an ARN or an account id grants nothing.
 */
export interface PipelineSettings {
  /** The CodeConnections connection to GitHub, GitLab or Bitbucket (`pipelineConnectionArn`). */
  readonly connectionArn: string;
  /** `owner/name` of the repository (`pipelineRepository`). */
  readonly repository: string;
  /** The branch whose every merge is delivered (`pipelineBranch`, default `main`). */
  readonly branch: string;
  /** Account of the pipeline and of the staging stage (`pipelineAccount`). */
  readonly account: string;
  /** Region of the pipeline and of both stages (`pipelineRegion`). */
  readonly region: string;
  /** Account of production (`prodAccount`, default the pipeline's). Another account needs `cdk bootstrap --trust`. */
  readonly prodAccount: string;
}

/** The context keys of {@link PipelineSettings}. */
export interface PipelineContext {
  readonly pipelineConnectionArn?: string;
  readonly pipelineRepository?: string;
  readonly pipelineBranch?: string;
  readonly pipelineAccount?: string;
  readonly pipelineRegion?: string;
  readonly prodAccount?: string;
}

/**
 * Without settings, the pipeline still synthesizes (CI checks it on every change), for the
 * synth-only account: a `cdk deploy` of it with real credentials stops before creating anything,
 * as the CLI refuses a stack of another account than its credentials'.
 */
const PLACEHOLDER_CONNECTION = `arn:aws:codeconnections:${DEFAULT_REGION}:${SYNTH_ONLY_ACCOUNT}:connection/00000000-0000-0000-0000-000000000000`;
const PLACEHOLDER_REPOSITORY = 'example-org/serverless-checkout';

const CONNECTION_ARN =
  /^arn:aws[\w-]*:(?:codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[\w-]+$/;
const REPOSITORY = /^[\w.-]+\/[\w.-]+(?:\/[\w.-]+)*$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
const BRANCH = /^[\w./-]+$/;

/** Builds the settings, refusing a malformed value with the value that was given. */
export function pipelineSettings(context: PipelineContext = {}): PipelineSettings {
  const connectionArn = check(
    'pipelineConnectionArn',
    context.pipelineConnectionArn ?? PLACEHOLDER_CONNECTION,
    CONNECTION_ARN,
  );
  const account = check('pipelineAccount', context.pipelineAccount ?? SYNTH_ONLY_ACCOUNT, ACCOUNT);
  return {
    connectionArn,
    repository: check('pipelineRepository', context.pipelineRepository ?? PLACEHOLDER_REPOSITORY, REPOSITORY),
    branch: check('pipelineBranch', context.pipelineBranch ?? 'main', BRANCH),
    account,
    region: check('pipelineRegion', context.pipelineRegion ?? DEFAULT_REGION, REGION),
    prodAccount: check('prodAccount', context.prodAccount ?? account, ACCOUNT),
  };
}

function check(name: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value))
    throw new Error(`${name}: "${value}" is not valid (docs/deploy.md, "The delivery pipeline")`);
  return value;
}
