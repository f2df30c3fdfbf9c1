import { Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import {
  BuildSpec,
  Cache,
  CfnProject,
  ComputeType,
  LinuxBuildImage,
  LocalCacheMode,
} from 'aws-cdk-lib/aws-codebuild';
import { PipelineType } from 'aws-cdk-lib/aws-codepipeline';
import { CfnPolicy, CfnRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import {
  CodeBuildStep,
  CodePipeline,
  CodePipelineSource,
  ConfirmPermissionsBroadening,
} from 'aws-cdk-lib/pipelines';
import { rules } from 'cdk-nag';
import type { Construct, IConstruct } from 'constructs';
import type { CheckoutStage } from './checkout-stage.js';
import { SMOKE_TEST_ROLE_NAME } from './config.js';
import type { PipelineSettings } from './pipeline-settings.js';
import { acknowledgeControl, acknowledgeControlOnEvery } from './policy-validation.js';

/**
 * How long staging runs with its alarms quiet after the smoke test before production starts
 * (docs/deploy.md, "Stage durations"): two periods of the 5-minute alarms (saga failures), enough
 * for an alarm the smoke test's orders tripped to have fired.
 */
export const BAKE_TIME = Duration.minutes(10);
/** How often the bake step reads the staging alarms. */
export const BAKE_POLL_INTERVAL = Duration.seconds(30);

/** npm 11 (what `npm ci` of this lock file needs) on the image's Node 22; the scripts then run on the Node 24 `npm ci` installs. */
const NPM_INSTALL = 'npm install --global npm@11.19.1';

/**
 * The bake (one shell script, run by CodeBuild's /bin/sh): fails at once if any alarm whose name
 * starts with `ALARM_NAME_PREFIX` is in ALARM, or if the alarms cannot be read; passes once
 * `BAKE_SECONDS` went by with none firing.
 */
export const BAKE_SCRIPT = [
  'deadline=$(( $(date +%s) + BAKE_SECONDS ))',
  'while :; do',
  '  firing=$(aws cloudwatch describe-alarms --alarm-name-prefix "$ALARM_NAME_PREFIX" --state-value ALARM' +
    " --query '[MetricAlarms[].AlarmName, CompositeAlarms[].AlarmName][]' --output text)" +
    ' || { echo "bake: cannot read the alarms $ALARM_NAME_PREFIX*"; exit 1; }',
  '  if [ -n "$firing" ]; then echo "bake: in ALARM during the bake: $firing"; exit 1; fi',
  '  if [ "$(date +%s)" -ge "$deadline" ]; then break; fi',
  '  sleep "$POLL_SECONDS"',
  'done',
  'echo "bake: no alarm $ALARM_NAME_PREFIX* fired in $BAKE_SECONDS s"',
].join('\n');

export interface PipelineStackProps extends StackProps {
  readonly settings: PipelineSettings;
  /** Deployed first, smoke-tested and baked. In the pipeline's account: the smoke test and the bake call its APIs. */
  readonly staging: CheckoutStage;
  /** Deployed once staging passed and the permissions gate let it through. */
  readonly production: CheckoutStage;
}

/**
 * The delivery pipeline (docs/deploy.md, "The delivery pipeline"; docs/adr/0022): CDK Pipelines on
 * CodePipeline V2. Source (a CodeConnections connection) → Build (the project's CI script, then the
 * synth with every rule set) → UpdatePipeline (self-mutation) → Assets → Staging (deploy, smoke
 * test, bake) → Prod (permissions gate, deploy; the functions and the saga then shift by canary and
 * a rollback fails the deploy).
 */
export class PipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  /** The role of the smoke test step: an admin principal of staging (lib/config.ts). */
  readonly smokeTestRole: Role;
  /** Told when the permissions gate waits for a human. */
  readonly approvals: Topic;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { settings, staging, production } = props;
    if (staging.account !== this.account || staging.region !== this.region) {
      throw new Error(
        `staging must be in the pipeline's account and region (${this.account}/${this.region}): the smoke ` +
          `test and the bake call its APIs with the pipeline's roles; got ${staging.account}/${staging.region}`,
      );
    }

    const source = CodePipelineSource.connection(settings.repository, settings.branch, {
      connectionArn: settings.connectionArn,
      triggerOnPush: true,
      actionName: 'Source',
    });

    // The project's own CI script, so the pipeline and CI can never disagree: npm ci, lint,
    // typecheck, synth (cdk-nag and every policy rule set; a finding fails it), npm test. Its synth
    // is the cloud assembly the rest of the pipeline deploys.
    const build = new CodeBuildStep('Build', {
      input: source,
      installCommands: [NPM_INSTALL],
      commands: ['bash .ci/run'],
      primaryOutputDirectory: 'cdk.out',
    });

    this.pipeline = new CodePipeline(this, 'Pipeline', {
      pipelineName: 'checkout',
      pipelineType: PipelineType.V2,
      synth: build,
      // Cross-account artifacts need a KMS key the target account may use; one account needs none.
      crossAccountKeys: settings.prodAccount !== settings.account,
      enableKeyRotation: settings.prodAccount !== settings.account,
      // One publishing job per asset type, its commands read from the cloud assembly: a change of
      // code changes the assets, not the pipeline, so it does not restart the run by self-mutation
      // (docs/adr/0022).
      publishAssetsInParallel: false,
      // One CloudFormation action per stack instead of create + execute change set: nothing
      // reviews the change set in between.
      useChangeSets: false,
      codeBuildDefaults: {
        buildEnvironment: { buildImage: LinuxBuildImage.STANDARD_7_0, computeType: ComputeType.SMALL },
        partialBuildSpec: BuildSpec.fromObject({
          phases: { install: { 'runtime-versions': { nodejs: '22' } } },
        }),
      },
      synthCodeBuildDefaults: {
        // The test suite is most of the build (docs/deploy.md, "Stage durations"): two test files
        // at a time, each starting emulated stacks and databases that use more cores than that.
        buildEnvironment: { computeType: ComputeType.LARGE },
        timeout: Duration.minutes(40),
        // npm's download cache between builds on the same host (best effort, no bucket to keep).
        cache: Cache.local(LocalCacheMode.CUSTOM),
        partialBuildSpec: BuildSpec.fromObject({ cache: { paths: ['/root/.npm/**/*'] } }),
      },
    });

    this.smokeTestRole = this.smokeTestRoleFor(staging);
    const smokeTest = new CodeBuildStep('SmokeTest', {
      input: source,
      role: this.smokeTestRole,
      envFromCfnOutputs: {
        STAGING_API_URL: staging.output('stateless', 'ApiUrl'),
        STAGING_API_KEY_ID: staging.output('stateless', 'SmokeTestApiKeyId'),
        STAGING_USER_POOL_ID: staging.output('stateful', 'UserPoolId'),
        STAGING_CLIENT_ID: staging.output('stateful', 'SmokeTestClientId'),
      },
      installCommands: [NPM_INSTALL],
      commands: [
        'npm ci --no-audit --no-fund',
        'npm run smoke -- --target "$STAGING_API_URL" --api-key-id "$STAGING_API_KEY_ID"' +
          ' --user-pool-id "$STAGING_USER_POOL_ID" --client-id "$STAGING_CLIENT_ID"',
      ],
      timeout: Duration.minutes(15),
    });

    const bake = new CodeBuildStep('BakeTime', {
      env: {
        ALARM_NAME_PREFIX: `checkout-${staging.config.stageName}-`,
        BAKE_SECONDS: String(BAKE_TIME.toSeconds()),
        POLL_SECONDS: String(BAKE_POLL_INTERVAL.toSeconds()),
      },
      commands: [BAKE_SCRIPT],
      rolePolicyStatements: [
        new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
      ],
      timeout: BAKE_TIME.plus(Duration.minutes(10)),
    });
    bake.addStepDependency(smokeTest);

    this.approvals = new Topic(this, 'Approvals', {
      displayName: 'Checkout pipeline: a release broadening permissions waits for approval',
      enforceSSL: true,
    });
    const gate = new ConfirmPermissionsBroadening('PermissionsGate', {
      stage: production,
      notificationTopic: this.approvals,
    });

    // The mutation tests of the money path (docs/testing.md, "Mutation testing"): longer than the
    // build's 15 minutes allow, so they run during the bake, on the same sources, four test
    // processes at a time on the large host. Below the score's floor (stryker.config.mjs) they
    // fail, and the release stops before prod.
    const mutationTests = new CodeBuildStep('MutationTests', {
      input: source,
      installCommands: [NPM_INSTALL],
      commands: ['npm ci --no-audit --no-fund', 'npm run mutate -- --concurrency 4'],
      buildEnvironment: { computeType: ComputeType.LARGE },
      timeout: Duration.minutes(120),
    });
    mutationTests.addStepDependency(smokeTest);

    this.pipeline.addStage(staging, { post: [smokeTest, bake, mutationTests] });
    this.pipeline.addStage(production, { pre: [gate] });
    this.acknowledgeGeneratedResources();
    this.meetControlsOfGeneratedResources();
  }

  /**
   * AWS Control Tower's controls (docs/adr/0021) on what CDK Pipelines generates: met where the
   * generated resource can be given the setting, acknowledged with a reason where it cannot.
   */
  private meetControlsOfGeneratedResources(): void {
    // Every CodeBuild project (build, steps, self-mutation, assets, the permissions gate's diff)
    // names its logging: CloudWatch Logs, which CodeBuild uses by default (CT.CODEBUILD.PR.3).
    for (const child of this.node.findAll()) {
      if (child instanceof CfnProject && child.logsConfig === undefined) {
        child.logsConfig = { cloudWatchLogs: { status: 'ENABLED' } };
      }
    }
    // The artifact bucket: versioned (CT.S3.PR.11), its run artifacts expire (CT.S3.PR.6), and its
    // events go to EventBridge (CT.S3.PR.4).
    const bucket = this.pipeline.pipeline.artifactBucket.node.defaultChild as CfnBucket;
    bucket.versioningConfiguration = { status: 'Enabled' };
    bucket.lifecycleConfiguration = {
      rules: [
        {
          id: 'ExpireRunArtifacts',
          status: 'Enabled',
          expirationInDays: 30,
          noncurrentVersionExpiration: { noncurrentDays: 7 },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ],
    };
    bucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    acknowledgeControl(
      bucket,
      'CT.S3.PR.2',
      "The artifact bucket is written and read only by this pipeline's roles, whose every call CloudTrail records; " +
        'server access logs would need a second bucket, with the same controls, for the logs of machine traffic.',
    );
    acknowledgeControl(
      bucket,
      'CT.S3.PR.9',
      'Run artifacts (the cloud assembly, test reports) are rebuilt from the repository by every run and expire after ' +
        '30 days; object lock would keep each one for its retention period against that lifecycle rule, and the ' +
        'repository, not this bucket, is the record of what was released.',
    );
    // The permissions gate's auto-approve function, generated by CDK Pipelines.
    const autoApprove = this.node.tryFindChild('Pipeline')?.node.tryFindChild('PipelinesSecurityCheck');
    if (autoApprove) {
      acknowledgeControlOnEvery(
        autoApprove,
        'AWS::Lambda::Function',
        'CT.LAMBDA.PR.3',
        "CDK Pipelines' auto-approve function of the permissions gate: it calls only CodePipeline's API " +
          '(PutApprovalResult) and touches no data; a VPC in the pipeline account for it would add NAT or endpoints ' +
          'for nothing it protects.',
      );
    }
    acknowledgeControlOnEvery(
      this,
      'AWS::Logs::LogGroup',
      'CT.CLOUDWATCH.PR.3',
      'CloudWatch Logs encrypts every log group at rest with keys it manages; the pipeline logs hold build output, ' +
        'never a secret (none is built or printed), which a customer managed key would not protect better.',
    );
  }

  /**
   * What the smoke test does in staging, and nothing else: sign its customer in (Cognito admin
   * calls on the stage's pool), read its API key, and call the admin product routes (SigV4).
   */
  private smokeTestRoleFor(staging: CheckoutStage): Role {
    const role = new Role(this, 'SmokeTestRole', {
      roleName: SMOKE_TEST_ROLE_NAME,
      assumedBy: new ServicePrincipal('codebuild.amazonaws.com'),
      description: 'Checkout pipeline: the smoke test against staging (npm run smoke)',
    });
    const stageTags = {
      'aws:ResourceTag/app': 'checkout',
      'aws:ResourceTag/stage': staging.config.stageName,
    };
    role.addToPolicy(
      new PolicyStatement({
        actions: [
          'cognito-idp:AdminCreateUser',
          'cognito-idp:AdminGetUser',
          'cognito-idp:AdminSetUserPassword',
          'cognito-idp:AdminInitiateAuth',
        ],
        resources: [this.formatArn({ service: 'cognito-idp', resource: 'userpool', resourceName: '*' })],
        conditions: { StringEquals: stageTags },
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['apigateway:GET'],
        resources: [`arn:${this.partition}:apigateway:${this.region}::/apikeys/*`],
        conditions: { StringEquals: stageTags },
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['execute-api:Invoke'],
        resources: [
          this.formatArn({
            service: 'execute-api',
            resource: '*',
            resourceName: `${staging.config.stageName}/*/v1/admin/products/*`,
          }),
        ],
      }),
    );
    return role;
  }

  /** cdk-nag findings on what CDK Pipelines generates, each with the reason it is accepted. */
  private acknowledgeGeneratedResources(): void {
    // Built now rather than when the app synthesizes, so that its roles exist to be acknowledged.
    this.pipeline.buildPipeline();
    acknowledgeWildcards(
      this.pipeline,
      "Generated by CDK Pipelines, each scoped as far as the service allows: object-level access to this pipeline's " +
        'own artifact bucket (s3:GetObject*, s3:List*, ... on that one bucket), each CodeBuild project its own log ' +
        'group and report groups (named after the project), the self-mutation and asset jobs assuming only the CDK ' +
        'bootstrap roles tagged aws-cdk:bootstrap-role, the permissions gate reading the deployed stacks for cdk diff ' +
        'and approving its own approval action, and the bake reading cloudwatch:DescribeAlarms, which has no ' +
        'resource-level permissions.',
    );
    acknowledgeWildcards(
      this.smokeTestRole,
      'The staging resources are created after the pipeline, so their ids are not known here: Cognito admin calls on ' +
        'user pools tagged app=checkout and stage=staging, reading API keys with the same tags, invoking only the admin ' +
        "product routes of staging's API (any API id); the rest is what CDK Pipelines grants a step (its input " +
        'artifact in the artifact bucket, its own CodeBuild log group and report groups).',
    );
    Validations.of(this.pipeline).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "The permissions gate's auto-approve function, generated by CDK Pipelines: the managed policy only lets it " +
          'write its own logs.',
      },
      {
        id: 'AwsSolutions-CB4',
        reason:
          'The build outputs (cloud assembly, test reports) are encrypted at rest in the artifact bucket with its key: ' +
          'S3-managed in one account, the pipeline KMS key across accounts (crossAccountKeys). No secret is built.',
      },
      {
        id: 'AwsSolutions-S1',
        reason:
          "The artifact bucket is written and read only by this pipeline's roles, whose every call CloudTrail " +
          'records; server access logs would need a second bucket for the logs of machine traffic.',
      },
    );
  }
}

/**
 * Acknowledges, with one reason, each wildcard finding (AwsSolutions-IAM5) of the IAM policies under
 * `scope`, as cdk-nag's own rule reports them: cdk-nag acknowledges findings one by one, and those
 * of generated roles name generated logical ids.
 */
function acknowledgeWildcards(scope: IConstruct, reason: string): void {
  for (const child of scope.node.findAll()) {
    if (!(child instanceof CfnPolicy || child instanceof CfnRole)) continue;
    const findings = rules.iam.IAMNoWildcardPermissions(child);
    if (!Array.isArray(findings)) continue;
    Validations.of(child).acknowledge(
      ...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })),
    );
  }
}
