import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { beforeAll, describe, expect, test } from 'vitest';
import { SMOKE_TEST_ROLE_NAME } from '../../lib/config.js';
import { pipelineSettings } from '../../lib/pipeline-settings.js';
import { BAKE_TIME } from '../../lib/pipeline-stack.js';
import { SYNTH_TEST_TIMEOUT_MS, type SynthesizedApp, synthesizeApp } from './support/checkout-app.js';
import {
  resourcesOfType,
  roleStatements,
  type TemplateResource,
  templateJson,
} from './support/template-queries.js';

const execFileAsync = promisify(execFile);

interface Action {
  readonly Name: string;
  readonly RunOrder: number;
  readonly ActionTypeId: { readonly Provider: string };
  readonly Configuration?: Record<string, unknown>;
  readonly Namespace?: string;
}
interface PipelineStage {
  readonly Name: string;
  readonly Actions: readonly Action[];
}

let app: SynthesizedApp;
let stages: readonly PipelineStage[];

// The whole app (dev's stacks, the pipeline, staging and prod) with both rule sets on every stack.
beforeAll(() => {
  app = synthesizeApp({ bundle: false });
  const [pipeline] = resourcesOfType(app.pipelineTemplate, 'AWS::CodePipeline::Pipeline');
  stages = (pipeline as TemplateResource).Properties.Stages as PipelineStage[];
}, SYNTH_TEST_TIMEOUT_MS);

/** The actions of a pipeline stage in the order they run (by run order, then name). */
function actions(stageName: string): Action[] {
  const stage = stages.find((candidate) => candidate.Name === stageName);
  if (!stage) throw new Error(`no pipeline stage ${stageName}: ${stages.map((s) => s.Name).join(', ')}`);
  return [...stage.Actions].sort((a, b) => a.RunOrder - b.RunOrder || a.Name.localeCompare(b.Name));
}

function action(stageName: string, actionName: string): Action {
  const found = actions(stageName).find((candidate) => candidate.Name === actionName);
  if (!found) throw new Error(`no action ${actionName} in ${stageName}`);
  return found;
}

/** The CodeBuild project a pipeline action runs, and its buildspec. */
function projectOf(runs: Action): { project: TemplateResource; buildSpec: BuildSpec } {
  const ref = (runs.Configuration?.ProjectName as { Ref: string }).Ref;
  const project = resourcesOfType(app.pipelineTemplate, 'AWS::CodeBuild::Project').find(
    (candidate) => candidate.logicalId === ref,
  ) as TemplateResource;
  const source = project.Properties.Source as { BuildSpec: unknown };
  // A buildspec with no token in it is a JSON string; others are CloudFormation functions.
  const buildSpec =
    typeof source.BuildSpec === 'string' ? (JSON.parse(source.BuildSpec) as BuildSpec) : undefined;
  return { project, buildSpec: buildSpec as BuildSpec };
}

interface BuildSpec {
  readonly phases: { readonly build: { readonly commands: readonly string[] } };
  readonly artifacts?: { readonly 'base-directory'?: string };
}

function projectEnvironment(project: TemplateResource): Record<string, string> {
  const variables = (
    project.Properties.Environment as { EnvironmentVariables?: { Name: string; Value: string }[] }
  ).EnvironmentVariables;
  return Object.fromEntries((variables ?? []).map((variable) => [variable.Name, variable.Value]));
}

describe('the delivery pipeline', () => {
  test('is a CodePipeline V2 whose stages run build, staging with its smoke test and bake, then the gate and prod', () => {
    expect(stages.map((stage) => stage.Name)).toEqual([
      'Source',
      'Build',
      'UpdatePipeline',
      'Assets',
      'Delivery-Staging',
      'Delivery-Prod',
    ]);
    app.pipelineTemplate.hasResourceProperties('AWS::CodePipeline::Pipeline', { PipelineType: 'V2' });
    expect(actions('Delivery-Staging').map((step) => step.Name)).toEqual([
      'checkout-staging-stateful.Deploy',
      'checkout-staging-stateless.Deploy',
      'SmokeTest',
      'BakeTime',
      'MutationTests',
    ]);
    // The mutation tests run during the bake, after the smoke test; prod waits for both.
    expect(actions('Delivery-Staging').map((step) => step.RunOrder)).toEqual([1, 2, 3, 4, 4]);
    expect(actions('Delivery-Prod').map((step) => step.Name)).toEqual([
      'PermissionsGate.Check',
      'PermissionsGate.Confirm',
      'checkout-prod-stateful.Deploy',
      'checkout-prod-stateless.Deploy',
    ]);
    expect(actions('Delivery-Prod').map((step) => step.RunOrder)).toEqual([1, 2, 3, 4]);
  });

  test('takes its source from the CodeConnections connection, branch and repository of the settings', () => {
    expect(action('Source', 'Source')).toMatchObject({
      ActionTypeId: { Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: app.settings.connectionArn,
        FullRepositoryId: app.settings.repository,
        BranchName: 'main',
        DetectChanges: true,
      },
    });
  });

  test("builds with the project's own CI script, and deploys the cloud assembly that script synthesized", () => {
    const { buildSpec } = projectOf(action('Build', 'Build'));

    expect(buildSpec.phases.build.commands).toEqual(['bash .ci/run']);
    expect(buildSpec.artifacts?.['base-directory']).toBe('cdk.out');
  });

  test('runs the mutation tests of the money path before prod, on a large build host', () => {
    const { project, buildSpec } = projectOf(action('Delivery-Staging', 'MutationTests'));

    expect(buildSpec.phases.build.commands).toEqual([
      'npm ci --no-audit --no-fund',
      'npm run mutate -- --concurrency 4',
    ]);
    expect(project.Properties).toMatchObject({
      Environment: { ComputeType: 'BUILD_GENERAL1_LARGE' },
      TimeoutInMinutes: 120,
    });
  });

  test("runs the smoke script against staging's API URL, read from the staging stack's output", () => {
    const smoke = action('Delivery-Staging', 'SmokeTest');
    const deployStateless = action('Delivery-Staging', 'checkout-staging-stateless.Deploy');
    const deployStateful = action('Delivery-Staging', 'checkout-staging-stateful.Deploy');
    const environment = Object.fromEntries(
      (
        JSON.parse(smoke.Configuration?.EnvironmentVariables as string) as { name: string; value: string }[]
      ).map((variable) => [variable.name, variable.value]),
    );
    const { buildSpec } = projectOf(smoke);

    expect(environment).toEqual({
      STAGING_API_URL: `#{${deployStateless.Namespace}.ApiUrl}`,
      STAGING_API_KEY_ID: `#{${deployStateless.Namespace}.SmokeTestApiKeyId}`,
      STAGING_USER_POOL_ID: `#{${deployStateful.Namespace}.UserPoolId}`,
      STAGING_CLIENT_ID: `#{${deployStateful.Namespace}.SmokeTestClientId}`,
    });
    expect(deployStateless.Configuration?.StackName).toBe('checkout-staging-stateless');
    expect(buildSpec.phases.build.commands).toContain(
      'npm run smoke -- --target "$STAGING_API_URL" --api-key-id "$STAGING_API_KEY_ID"' +
        ' --user-pool-id "$STAGING_USER_POOL_ID" --client-id "$STAGING_CLIENT_ID"',
    );
    const stagingStateless = Template.fromStack(app.staging.stateless);
    stagingStateless.hasOutput('ApiUrl', {});
    stagingStateless.hasOutput('SmokeTestApiKeyId', {});
    Template.fromStack(app.staging.stateful).hasOutput('SmokeTestClientId', {});
  });

  test('bakes staging for the bake time, watching the alarms of staging only', () => {
    const { project } = projectOf(action('Delivery-Staging', 'BakeTime'));

    expect(projectEnvironment(project)).toMatchObject({
      ALARM_NAME_PREFIX: 'checkout-staging-',
      BAKE_SECONDS: String(BAKE_TIME.toSeconds()),
    });
    const alarms = resourcesOfType(Template.fromStack(app.staging.stateless), 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmName).toMatch(/^checkout-staging-/);
  });

  test('holds prod behind ConfirmPermissionsBroadening: a check of the prod stage, then an approval', () => {
    const check = projectOf(action('Delivery-Prod', 'PermissionsGate.Check'));

    expect(JSON.stringify(check.project.Properties.Source)).toContain('cdk diff');
    expect(action('Delivery-Prod', 'PermissionsGate.Confirm').ActionTypeId.Provider).toBe('Manual');
  });

  test('deploys prod with CloudFormation actions, so a CodeDeploy rollback of a canary fails the pipeline', () => {
    expect(action('Delivery-Prod', 'checkout-prod-stateless.Deploy')).toMatchObject({
      ActionTypeId: { Provider: 'CloudFormation' },
      Configuration: { ActionMode: 'CREATE_UPDATE', StackName: 'checkout-prod-stateless' },
    });
    // The aliases shift through CodeDeploy inside the stack update: a rollback fails the update.
    const prodStateless = templateJson(Template.fromStack(app.production.stateless));
    const shifted = Object.values(prodStateless.Resources).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::Alias' &&
        (resource as { UpdatePolicy?: { CodeDeployLambdaAliasUpdate?: unknown } }).UpdatePolicy
          ?.CodeDeployLambdaAliasUpdate,
    );
    expect(shifted.length).toBeGreaterThan(10);
  });

  test('publishes assets in one job whose commands live in the cloud assembly: a code change leaves the pipeline unchanged', () => {
    expect(actions('Assets').map((step) => step.Name)).toEqual(['FileAssets']);
    const pipeline = JSON.stringify(templateJson(app.pipelineTemplate));
    const assetHashes = app.assembly
      .getNestedAssembly('assembly-Delivery')
      .getNestedAssembly('assembly-Delivery-Staging')
      .artifacts.filter((artifact) => artifact instanceof AssetManifestArtifact)
      .flatMap((manifest) => Object.keys(manifest.contents.files ?? {}));

    expect(assetHashes.length).toBeGreaterThan(10);
    for (const hash of assetHashes) expect(pipeline).not.toContain(hash);
  });

  test('lets the smoke test role sign in its customer and read its product in staging, and nothing in prod', () => {
    const role = resourcesOfType(app.pipelineTemplate, 'AWS::IAM::Role').find(
      (candidate) => candidate.Properties.RoleName === SMOKE_TEST_ROLE_NAME,
    ) as TemplateResource;
    const statements = roleStatements(app.pipelineTemplate, role.logicalId);
    const cognito = statements.find((statement) => JSON.stringify(statement.Action).includes('cognito-idp'));
    const invoke = statements.find((statement) => statement.Action === 'execute-api:Invoke');

    expect((cognito as { Condition?: unknown } | undefined)?.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/app': 'checkout', 'aws:ResourceTag/stage': 'staging' },
    });
    expect(JSON.stringify(invoke?.Resource)).toContain('/staging/*/v1/admin/products/*');
    expect(app.staging.config.adminPrincipals).toContain(SMOKE_TEST_ROLE_NAME);
    expect(app.production.config.adminPrincipals).not.toContain(SMOKE_TEST_ROLE_NAME);
  });
});

describe("the pipeline's stages get what the stage config applies to its stacks", () => {
  // The pipeline synthesizes its stages on their own, so what is applied to the app (tags, removal
  // policies, any aspect) never reaches them: addStageStacks applies it to the stacks.
  test("tags the resources of staging and prod with app and stage, as the smoke role's conditions expect", () => {
    const stagingPool = resourcesOfType(
      Template.fromStack(app.staging.stateful),
      'AWS::Cognito::UserPool',
    )[0];
    const stagingKeys = resourcesOfType(Template.fromStack(app.staging.stateless), 'AWS::ApiGateway::ApiKey');
    const prodPool = resourcesOfType(
      Template.fromStack(app.production.stateful),
      'AWS::Cognito::UserPool',
    )[0];

    expect(stagingPool?.Properties.UserPoolTags).toMatchObject({ app: 'checkout', stage: 'staging' });
    expect(stagingKeys.length).toBeGreaterThan(0);
    for (const key of stagingKeys) {
      expect(key.Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'app', Value: 'checkout' },
          { Key: 'stage', Value: 'staging' },
        ]),
      );
    }
    expect(prodPool?.Properties.UserPoolTags).toMatchObject({ app: 'checkout', stage: 'prod' });
  });

  test("prod's log groups are retained (except after a failed create), staging's are not", () => {
    const policies = (template: Template) =>
      new Set(resourcesOfType(template, 'AWS::Logs::LogGroup').map((group) => group.DeletionPolicy));

    expect(policies(Template.fromStack(app.production.stateless))).toEqual(new Set(['RetainExceptOnCreate']));
    expect(policies(Template.fromStack(app.staging.stateless))).toEqual(new Set(['Delete']));
  });
});

describe('the staging stage', () => {
  test('runs the simulated provider with a smoke-test client and key; prod has neither', () => {
    const staging = Template.fromStack(app.staging.stateful);
    const prod = Template.fromStack(app.production.stateful);

    staging.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    });
    expect(JSON.stringify(prod.toJSON())).not.toContain('ALLOW_ADMIN_USER_PASSWORD_AUTH');
    expect(app.staging.config.paymentProvider.kind).toBe('simulated');
    expect(app.staging.config.production).toBe(false);
    expect(app.staging.config.multiAz).toBe(true);
  });
});

describe('rollouts per stage', () => {
  const deploymentConfigs = (template: Template) =>
    resourcesOfType(template, 'AWS::CodeDeploy::DeploymentGroup').map(
      (group) => group.Properties.DeploymentConfigName,
    );
  const sagaAlias = (template: Template) =>
    resourcesOfType(template, 'AWS::StepFunctions::StateMachineAlias')[0]?.Properties
      .DeploymentPreference as {
      Type: string;
      Alarms?: unknown;
    };

  test('staging shifts every function and the saga at once, still rolled back by the same alarms', () => {
    const staging = Template.fromStack(app.staging.stateless);

    const configs = deploymentConfigs(staging);
    expect(configs.length).toBeGreaterThan(10);
    expect(new Set(configs)).toEqual(new Set(['CodeDeployDefault.LambdaAllAtOnce']));
    expect(sagaAlias(staging)).toMatchObject({
      Type: 'ALL_AT_ONCE',
      Alarms: [{ Ref: expect.stringMatching(/^MonitoringSagaFailures/) }],
    });
    for (const group of resourcesOfType(staging, 'AWS::CodeDeploy::DeploymentGroup')) {
      expect(group.Properties.AlarmConfiguration).toMatchObject({ Enabled: true });
    }
  });

  test('prod keeps its canaries', () => {
    const prod = Template.fromStack(app.production.stateless);

    expect(deploymentConfigs(prod)).toContain('CodeDeployDefault.LambdaCanary10Percent5Minutes');
    expect(deploymentConfigs(prod)).not.toContain('CodeDeployDefault.LambdaAllAtOnce');
    expect(sagaAlias(prod)).toMatchObject({ Type: 'CANARY', Percentage: 10, Interval: 10 });
  });
});

describe('pipeline settings', () => {
  test('default to placeholders for the synth-only account, and prod in the pipeline account', () => {
    const settings = pipelineSettings();

    expect(settings.account).toBe('123456789012');
    expect(settings.prodAccount).toBe(settings.account);
  });

  test('refuse a malformed connection ARN with the value given', () => {
    expect(() => pipelineSettings({ pipelineConnectionArn: 'arn:aws:s3:::bucket' })).toThrow(
      /pipelineConnectionArn: "arn:aws:s3:::bucket" is not valid/,
    );
  });
});

describe('the bake step, run as CodeBuild runs it, against a stand-in for the AWS CLI', () => {
  /**
   * Runs the synthesized BakeTime commands with /bin/sh, as CodeBuild does, with `aws` answering
   * the alarms in ALARM from a file (one line per call; the last line repeats).
   */
  async function bake(answers: readonly string[], options: { bakeSeconds: number; awsFails?: boolean }) {
    const { project, buildSpec } = projectOf(action('Delivery-Staging', 'BakeTime'));
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-'));
    await writeFile(path.join(dir, 'answers'), `${answers.join('\n')}\n`);
    await writeFile(
      path.join(dir, 'aws'),
      [
        '#!/bin/sh',
        `echo "$*" >> "${dir}/calls"`,
        options.awsFails ? 'echo "AccessDenied" >&2; exit 254' : '',
        `n=$(wc -l < "${dir}/calls")`,
        `total=$(wc -l < "${dir}/answers")`,
        '[ "$n" -gt "$total" ] && n=$total',
        `sed -n "\${n}p" "${dir}/answers"`,
      ].join('\n'),
    );
    await chmod(path.join(dir, 'aws'), 0o755);
    const env = {
      ...projectEnvironment(project),
      BAKE_SECONDS: String(options.bakeSeconds),
      POLL_SECONDS: '0',
      PATH: `${dir}:${process.env.PATH}`,
    };
    const script = buildSpec.phases.build.commands.join('\n');
    let result: { code: number; stdout: string };
    try {
      const { stdout } = await execFileAsync('/bin/sh', ['-c', script], { env, timeout: 30_000 });
      result = { code: 0, stdout };
    } catch (error) {
      const failed = error as { code: number; stdout: string };
      result = { code: failed.code, stdout: failed.stdout };
    }
    const calls = (await readFile(path.join(dir, 'calls'), 'utf8').catch(() => '')).trim().split('\n');
    return { ...result, calls };
  }

  test('passes when no staging alarm fires during the bake', async () => {
    const run = await bake([''], { bakeSeconds: 0 });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('bake: no alarm checkout-staging-* fired');
    expect(run.calls[0]).toBe(
      'cloudwatch describe-alarms --alarm-name-prefix checkout-staging- --state-value ALARM' +
        ' --query [MetricAlarms[].AlarmName, CompositeAlarms[].AlarmName][] --output text',
    );
  });

  test('fails when an alarm goes into ALARM in the middle of the bake, naming it', async () => {
    const run = await bake(['', '', 'checkout-staging-stateless-SagaFailures'], { bakeSeconds: 30 });

    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe('bake: in ALARM during the bake: checkout-staging-stateless-SagaFailures');
    expect(run.calls).toHaveLength(3);
  });

  test('fails when the alarms cannot be read', async () => {
    const run = await bake([''], { bakeSeconds: 30, awsFails: true });

    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe('bake: cannot read the alarms checkout-staging-*');
  });
});
