import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { CfnAlias, CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { DefinitionBody, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CheckoutFunction } from '../../lib/constructs/checkout-function.js';
import { LIVE_ALIAS_NAME, liveAlias } from '../../lib/constructs/live-alias.js';
import { StateMachineLiveAlias } from '../../lib/constructs/state-machine-alias.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
import {
  actionsOf,
  type PolicyStatement,
  referencedLogicalId,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type TemplateResource,
  templateJson,
} from './support/template-queries.js';

let checkout: SynthesizedCheckout;
let stack: Stack;
let stateless: Template;

beforeAll(() => {
  checkout = synthesizeCheckout({ stage: 'dev', bundle: false });
  stack = checkout.stateless;
  stateless = checkout.statelessTemplate;
});

type Kind = 'api' | 'saga' | 'worker' | 'schedule';

/** Every function that serves traffic, with how its traffic reaches it. */
function servingFunctions(): { name: string; fn: CheckoutFunction; kind: Kind }[] {
  const { apiHandlers, saga, compensationWorker, sagaStarter, sweeper, outboxRelay } = checkout.stateless;
  return [
    ...[...apiHandlers.functions].map(([name, fn]) => ({ name, fn, kind: 'api' as const })),
    ...[...saga.functions].map(([name, fn]) => ({ name, fn, kind: 'saga' as const })),
    { name: 'CompensationWorker', fn: compensationWorker.handler, kind: 'worker' },
    { name: 'SagaStarter', fn: sagaStarter.handler, kind: 'worker' },
    { name: 'OrderSweeper', fn: sweeper.job.handler, kind: 'schedule' },
    { name: 'OutboxRelay', fn: outboxRelay.job.handler, kind: 'schedule' },
  ];
}

function resource(logicalId: string): TemplateResource {
  const found = templateJson(stateless).Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return { logicalId, ...found, Properties: found.Properties ?? {} };
}

const functionId = (fn: CheckoutFunction) => stack.getLogicalId(fn.function.node.defaultChild as CfnFunction);
const aliasId = (fn: CheckoutFunction) => stack.getLogicalId(liveAlias(fn).node.defaultChild as CfnAlias);
const alarmId = (name: string) =>
  stack.getLogicalId(
    checkout.stateless.deployments.deployments.get(name)?.newVersionErrors.node.defaultChild as CfnAlarm,
  );
const monitoringAlarmId = (alarm: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(alarm.node.defaultChild as CfnAlarm);

function deploymentGroupOf(fn: CheckoutFunction): TemplateResource {
  const alias = resource(aliasId(fn));
  const update = (alias as unknown as { UpdatePolicy?: Record<string, { DeploymentGroupName: unknown }> })
    .UpdatePolicy?.CodeDeployLambdaAliasUpdate;
  if (!update) throw new Error(`alias ${alias.logicalId} has no CodeDeploy update policy`);
  return resource(referencedLogicalId(update.DeploymentGroupName) ?? '');
}

describe('functions roll out by CodeDeploy through their live alias', () => {
  test('every traffic-serving function has a retained version and a live alias pointing at it', () => {
    const functions = servingFunctions();
    // Every function of the stateless stack but the simulated payment provider.
    expect(functions.length).toBe(resourcesOfType(stateless, 'AWS::Lambda::Function').length - 1);
    for (const { name, fn } of functions) {
      const alias = resource(aliasId(fn));
      const versionId = referencedLogicalId(alias.Properties.FunctionVersion) ?? '';
      const version = resource(versionId);

      expect(alias.Properties.Name, name).toBe(LIVE_ALIAS_NAME);
      expect(referencedLogicalId(alias.Properties.FunctionName), name).toBe(functionId(fn));
      expect(version.Type, name).toBe('AWS::Lambda::Version');
      expect(referencedLogicalId(version.Properties.FunctionName), name).toBe(functionId(fn));
      // Kept when the next deploy replaces it: a rollback by hand points the alias back at it. Not
      // kept when the deploy that published it rolls back: it never served.
      expect([version.DeletionPolicy, version.UpdateReplacePolicy], name).toEqual([
        'RetainExceptOnCreate',
        'Retain',
      ]);
    }
  });

  test('the functions that serve no traffic (simulated provider, migration runner) get no alias', () => {
    const aliased = resourcesOfType(stateless, 'AWS::Lambda::Alias').map((alias) =>
      referencedLogicalId(alias.Properties.FunctionName),
    );
    const provider = checkout.stateless.paymentProvider?.handler as CheckoutFunction;

    expect(aliased.sort()).toEqual(
      servingFunctions()
        .map(({ fn }) => functionId(fn))
        .sort(),
    );
    expect(aliased).not.toContain(functionId(provider));
    expect(resourcesOfType(checkout.statefulTemplate, 'AWS::Lambda::Alias')).toEqual([]);
  });

  test('every alias deploys through its own deployment group, which rolls back automatically', () => {
    const groups = new Set<string>();
    for (const { name, fn } of servingFunctions()) {
      const group = deploymentGroupOf(fn);
      groups.add(group.logicalId);

      expect(group.Properties.DeploymentStyle, name).toEqual({
        DeploymentOption: 'WITH_TRAFFIC_CONTROL',
        DeploymentType: 'BLUE_GREEN',
      });
      expect(group.Properties.AutoRollbackConfiguration, name).toEqual({
        Enabled: true,
        Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM'],
      });
      expect((group.Properties.AlarmConfiguration as { Enabled: boolean }).Enabled, name).toBe(true);
    }
    expect(groups.size).toBe(servingFunctions().length);
  });

  test('API and saga task functions: canary 10 % for 5 minutes, the worker linear, the scheduled jobs 50 % for 10 minutes', () => {
    const custom = resourcesOfType(stateless, 'AWS::CodeDeploy::DeploymentConfig');
    expect(custom).toHaveLength(1);
    expect((custom[0] as TemplateResource).Properties.TrafficRoutingConfig).toEqual({
      Type: 'TimeBasedCanary',
      TimeBasedCanary: { CanaryInterval: 10, CanaryPercentage: 50 },
    });

    for (const { name, fn, kind } of servingFunctions()) {
      const config = deploymentGroupOf(fn).Properties.DeploymentConfigName;
      if (kind === 'api' || kind === 'saga') {
        expect(config, name).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
      } else if (kind === 'worker') {
        expect(config, name).toBe('CodeDeployDefault.LambdaLinear10PercentEvery1Minute');
      } else {
        expect(referencedLogicalId(config), name).toBe((custom[0] as TemplateResource).logicalId);
      }
    }
  });

  test("each rollout stops on the new version's errors, API rollouts also on API 5xx and p99, saga tasks on saga failures", () => {
    const { api5xxRateAlarm, apiLatencyAlarm, sagaFailuresAlarm } = checkout.stateless.monitoring;
    for (const { name, fn, kind } of servingFunctions()) {
      const alarms = (
        deploymentGroupOf(fn).Properties.AlarmConfiguration as { Alarms: { Name: unknown }[] }
      ).Alarms.map((alarm) => referencedLogicalId(alarm.Name));
      const expected = [alarmId(name)];
      if (kind === 'api')
        expected.push(monitoringAlarmId(api5xxRateAlarm), monitoringAlarmId(apiLatencyAlarm));
      if (kind === 'saga') expected.push(monitoringAlarmId(sagaFailuresAlarm));

      expect(alarms.sort(), name).toEqual(expected.sort());
    }
  });

  test('the new-version alarm counts only the version being rolled out, behind the live alias', () => {
    for (const { name, fn } of servingFunctions()) {
      const alarm = resource(alarmId(name));
      const versionId = referencedLogicalId(resource(aliasId(fn)).Properties.FunctionVersion);
      const metrics = ((alarm.Properties.Metrics ?? []) as { MetricStat?: { Metric: unknown } }[])
        .map((query) => query.MetricStat?.Metric)
        .filter((metric) => metric !== undefined);
      const single = alarm.Properties.Dimensions ? [{ Dimensions: alarm.Properties.Dimensions }] : [];

      expect(alarm.Properties.AlarmName, name).toBe(`${stack.stackName}-${name}-NewVersionErrors`);
      for (const metric of [...metrics, ...single] as { Dimensions: { Name: string; Value: unknown }[] }[]) {
        const dimension = (key: string) => metric.Dimensions.find((d) => d.Name === key)?.Value;
        expect(referencedLogicalId(dimension('ExecutedVersion')), name).toBe(versionId);
        expect(referencedLogicalId(dimension('FunctionName')), name).toBe(functionId(fn));
        expect(JSON.stringify(dimension('Resource')), name).toContain(`:${LIVE_ALIAS_NAME}`);
      }
      expect(metrics.length + single.length, name).toBeGreaterThan(0);
    }
  });

  test("CodeDeploy's one role holds no managed policy and may shift the alias of every function that rolls out", () => {
    const roleId = referencedLogicalId(
      deploymentGroupOf(checkout.stateless.compensationWorker.handler).Properties.ServiceRoleArn,
    ) as string;
    const statements = roleStatements(stateless, roleId);
    const granted = (action: string) =>
      statements
        .filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action))
        .flatMap(resourcesOf)
        .map((arn) => JSON.stringify(arn));

    expect(resource(roleId).Properties.ManagedPolicyArns).toBeUndefined();
    // Lambda authorizes GetAlias and UpdateAlias on the function's ARN, as AWS's managed
    // AWSCodeDeployRoleForLambdaLimited does (function:*): each function, and its live alias.
    for (const action of ['lambda:GetAlias', 'lambda:UpdateAlias']) {
      expect(granted(action).sort(), action).toEqual(
        servingFunctions()
          .flatMap(({ fn }) => [
            JSON.stringify({ 'Fn::GetAtt': [functionId(fn), 'Arn'] }),
            JSON.stringify({ Ref: aliasId(fn) }),
          ])
          .sort(),
      );
    }
    for (const { fn } of servingFunctions()) {
      expect(referencedLogicalId(deploymentGroupOf(fn).Properties.ServiceRoleArn)).toBe(roleId);
    }
  });
});

describe('every caller invokes an alias', () => {
  test('API methods: their integration and the invoke permission name the live alias', () => {
    const permissions = resourcesOfType(stateless, 'AWS::Lambda::Permission').filter(
      (permission) => permission.Properties.Principal === 'apigateway.amazonaws.com',
    );
    const apiAliases = [...checkout.stateless.apiHandlers.functions.values()].map(aliasId);

    expect(permissions.length).toBe(apiAliases.length);
    for (const permission of permissions) {
      expect(apiAliases).toContain(referencedLogicalId(permission.Properties.FunctionName));
    }
  });

  test('every function substitution of the state machine is a live alias', () => {
    const [machine] = resourcesOfType(stateless, 'AWS::StepFunctions::StateMachine');
    const substitutions = machine?.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const functionSubstitutions = Object.entries(substitutions).filter(([key]) =>
      key.endsWith('FunctionArn'),
    );

    expect(functionSubstitutions.length).toBe(checkout.stateless.saga.functions.size);
    for (const [key, value] of functionSubstitutions) {
      const state = key.replace(/FunctionArn$/, '');
      const fn = checkout.stateless.saga.functions.get(state) as CheckoutFunction;
      expect(referencedLogicalId(value), key).toBe(aliasId(fn));
    }
  });

  test('both event source mappings (compensation queue, saga-start queue) and both schedules target a live alias', () => {
    const mappings = resourcesOfType(stateless, 'AWS::Lambda::EventSourceMapping');
    const schedules = resourcesOfType(stateless, 'AWS::Scheduler::Schedule');
    const scheduled = [checkout.stateless.sweeper.job.handler, checkout.stateless.outboxRelay.job.handler];
    const consumers = [checkout.stateless.compensationWorker.handler, checkout.stateless.sagaStarter.handler];

    // `<function name>:live`, taken from the alias ARN.
    expect(mappings).toHaveLength(consumers.length);
    for (const [index, mapping] of mappings.entries()) {
      const mappingTarget = JSON.stringify(mapping.Properties.FunctionName);
      expect(mappingTarget).toContain(`"Ref":"${aliasId(consumers[index] as CheckoutFunction)}"`);
      expect(mappingTarget).toContain(`":${LIVE_ALIAS_NAME}"`);
    }
    expect(
      schedules.map((s) => referencedLogicalId((s.Properties.Target as { Arn: unknown }).Arn)).sort(),
    ).toEqual(scheduled.map(aliasId).sort());
  });
});

describe('the payment saga starts executions through a versioned alias', () => {
  function sagaResources() {
    const [version] = resourcesOfType(stateless, 'AWS::StepFunctions::StateMachineVersion');
    const [alias] = resourcesOfType(stateless, 'AWS::StepFunctions::StateMachineAlias');
    const [machine] = resourcesOfType(stateless, 'AWS::StepFunctions::StateMachine');
    return {
      version: version as TemplateResource,
      alias: alias as TemplateResource,
      machine: machine as TemplateResource,
    };
  }

  test("a version is published from the state machine's current revision, and kept when replaced", () => {
    const { version, machine } = sagaResources();

    expect(referencedLogicalId(version.Properties.StateMachineArn)).toBe(machine.logicalId);
    expect(version.Properties.StateMachineRevisionId).toEqual({
      'Fn::GetAtt': [machine.logicalId, 'StateMachineRevisionId'],
    });
    expect([version.DeletionPolicy, version.UpdateReplacePolicy]).toEqual(['RetainExceptOnCreate', 'Retain']);
  });

  test('the live alias shifts new executions to the new version by canary, rolling back on saga failures', () => {
    const { version, alias } = sagaResources();
    const preference = alias.Properties.DeploymentPreference as Record<string, unknown>;

    expect(alias.Properties.Name).toBe('live');
    expect(preference.Type).toBe('CANARY');
    expect(preference.Percentage).toBe(10);
    expect(preference.Interval).toBe(10);
    expect(referencedLogicalId(preference.StateMachineVersionArn)).toBe(version.logicalId);
    expect((preference.Alarms as unknown[]).map(referencedLogicalId)).toEqual([
      monitoringAlarmId(checkout.stateless.monitoring.sagaFailuresAlarm),
    ]);
  });

  test('the checkout function and the sweeper get the alias ARN and may start executions only on it', () => {
    const { alias } = sagaResources();
    const starters = [
      checkout.stateless.apiHandlers.functions.get('placeOrder') as CheckoutFunction,
      checkout.stateless.sweeper.job.handler,
    ];
    for (const fn of starters) {
      const lambda = resource(functionId(fn));
      const env = (lambda.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const roleId = referencedLogicalId(lambda.Properties.Role) as string;
      const start = roleStatements(stateless, roleId).filter((s) =>
        actionsOf(s).includes('states:StartExecution'),
      );

      expect(env.STATE_MACHINE_ARN).toEqual({ 'Fn::GetAtt': [alias.logicalId, 'Arn'] });
      expect(start).toHaveLength(1);
      expect(actionsOf(start[0] as PolicyStatement)).toEqual(['states:StartExecution']);
      expect(resourcesOf(start[0] as PolicyStatement)).toEqual([{ 'Fn::GetAtt': [alias.logicalId, 'Arn'] }]);
    }
  });

  test('the sweeper describes the executions of the state machine, however they were started', () => {
    const fn = checkout.stateless.sweeper.job.handler;
    const roleId = referencedLogicalId(resource(functionId(fn)).Properties.Role) as string;
    const describe = roleStatements(stateless, roleId).find((s) =>
      actionsOf(s).includes('states:DescribeExecution'),
    ) as PolicyStatement;

    expect(JSON.stringify(resourcesOf(describe))).toContain(
      `:execution:${checkout.stateless.saga.stateMachineName}:*`,
    );
  });
});

describe('the state machine alias construct', () => {
  function machineIn(scope: Stack): StateMachine {
    return new StateMachine(scope, 'Machine', {
      definitionBody: DefinitionBody.fromString('{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'),
    });
  }

  test('refuses to synthesize without an alarm to roll back on', () => {
    const app = new App();
    const scope = new Stack(app, 'Test');
    new StateMachineLiveAlias(scope, 'Live', { stateMachine: machineIn(scope) });

    expect(() => app.synth()).toThrow(/no alarm to roll back on/);
  });

  test('refuses a canary share outside 1–99 %', () => {
    const scope = new Stack(new App(), 'Test');
    const stateMachine = machineIn(scope);

    expect(() => new StateMachineLiveAlias(scope, 'Live', { stateMachine, canaryPercentage: 100 })).toThrow(
      /canaryPercentage must be an integer from 1 to 99, got 100/,
    );
  });
});
