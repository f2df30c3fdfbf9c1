import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { availabilityZonesOf, stageConfig } from '../../lib/config.js';
import {
  SYNTH_TEST_TIMEOUT_MS,
  type SynthesizedCheckout,
  synthesizeCheckout,
} from './support/checkout-app.js';
import { resourcesOfType, templateJson } from './support/template-queries.js';

let prod: SynthesizedCheckout;
let stateful: Template;
let stateless: Template;

beforeAll(() => {
  prod = synthesizeCheckout({ stage: 'prod', bundle: false });
  stateful = prod.statefulTemplate;
  stateless = prod.statelessTemplate;
});

describe('production stage', () => {
  test('passes the cdk-nag checks with its own settings, under its own stack names', () => {
    expect(prod.assembly.stacks.map((stack) => stack.stackName).sort()).toEqual([
      'checkout-prod-stateful',
      'checkout-prod-stateless',
    ]);
  });

  test('the stateful stack has termination protection', () => {
    const artifact = prod.assembly.getStackByName('checkout-prod-stateful');
    expect(artifact.terminationProtection).toBe(true);
  });

  test('the database runs Multi-AZ with deletion protection, is retained, and is monitored', () => {
    const [instance] = resourcesOfType(stateful, 'AWS::RDS::DBInstance');

    expect(instance?.Properties).toMatchObject({
      MultiAZ: true,
      DeletionProtection: true,
      EnablePerformanceInsights: true,
      MonitoringInterval: 60,
      BackupRetentionPeriod: 30,
    });
    expect(instance?.DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(instance?.UpdateReplacePolicy).toBe('Retain');
  });

  test('stateful resources are kept when replaced or deleted, but not by a failed first deploy: no plain Retain anywhere', () => {
    for (const type of [
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBSubnetGroup',
      'AWS::RDS::DBParameterGroup',
      // The owner's and the application role's secrets, with the instance they unlock; the provider key.
      'AWS::SecretsManager::Secret',
      'AWS::DynamoDB::Table',
      'AWS::SQS::Queue',
      'AWS::Cognito::UserPool',
      'AWS::KMS::Key',
      'AWS::Logs::LogGroup',
    ]) {
      const resources = resourcesOfType(stateful, type);
      expect(resources.length, type).toBeGreaterThan(0);
      for (const resource of resources) {
        expect(
          [resource.DeletionPolicy, resource.UpdateReplacePolicy],
          `${type} ${resource.logicalId}`,
        ).toEqual(['RetainExceptOnCreate', 'Retain']);
      }
    }
    expect(resourcesOfType(stateful, 'AWS::SecretsManager::Secret').length).toBe(3);
    for (const template of [stateful, stateless]) {
      const plainRetain = Object.entries(templateJson(template).Resources)
        .filter(([, resource]) => resource.DeletionPolicy === 'Retain')
        .map(([logicalId, resource]) => `${resource.Type} ${logicalId}`);
      expect(plainRetain).toEqual([]);
    }
  });

  test('tables and the user pool are deletion-protected', () => {
    for (const table of resourcesOfType(stateful, 'AWS::DynamoDB::Table')) {
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
    const [pool] = resourcesOfType(stateful, 'AWS::Cognito::UserPool');
    expect(pool?.Properties).toMatchObject({ DeletionProtection: 'ACTIVE', UserPoolTier: 'PLUS' });
  });

  test('one NAT gateway per availability zone', () => {
    stateful.resourceCountIs('AWS::EC2::NatGateway', 3);
  });

  test('the Control Tower controls it waives, each on its resources with a reason', () => {
    const report = JSON.parse(
      readFileSync(path.join(prod.assembly.directory, 'validation-report.json'), 'utf8'),
    ) as {
      pluginReports: {
        pluginName: string;
        conclusion: string;
        violations: unknown[];
        suppressedViolations?: { ruleName: string; reason: string }[];
      }[];
    };
    const controlTower = report.pluginReports.find((plugin) => plugin.pluginName === 'Control Tower');
    const waived = controlTower?.suppressedViolations ?? [];

    expect(controlTower?.violations).toEqual([]);
    // A change to this list is a decision: docs/deploy.md ("Preflight") lists them for the platform team.
    expect([...new Set(waived.map((violation) => violation.ruleName))].sort()).toEqual([
      'CT.CLOUDWATCH.PR.3',
      'CT.DYNAMODB.PR.1',
      'CT.LAMBDA.PR.2',
      'CT.LAMBDA.PR.3',
      'CT.RDS.PR.20',
      'CT.RDS.PR.30',
      'CT.SQS.PR.1',
    ]);
    for (const violation of waived) expect(violation.reason.length, violation.ruleName).toBeGreaterThan(40);
    for (const violation of waived.filter((v) => v.ruleName === 'CT.LAMBDA.PR.2')) {
      expect(violation.reason).toMatch(/^False positive of CT\.LAMBDA\.PR\.2: /);
    }
  });

  test('no simulated payment provider: the URL is read from SSM at deploy time', () => {
    const parameters = templateJson(stateless).Parameters ?? {};
    const ssm = Object.entries(parameters).find(([, parameter]) =>
      parameter.Type.startsWith('AWS::SSM::Parameter::Value'),
    );

    stateless.resourceCountIs('AWS::Lambda::Url', 0);
    expect(prod.stateless.paymentProvider).toBeUndefined();
    expect(ssm?.[1].Default).toBe('/checkout/prod/payment-provider-url');
    for (const fn of resourcesOfType(stateless, 'AWS::Lambda::Function')) {
      const variables =
        (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      if ('PAYMENT_PROVIDER_URL' in variables)
        expect(variables.PAYMENT_PROVIDER_URL).toEqual({ Ref: ssm?.[0] });
    }
  });

  test('INFO logs, kept a year, and kept when their stack goes', () => {
    for (const fn of resourcesOfType(stateless, 'AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.POWERTOOLS_LOG_LEVEL).toBe('INFO');
    }
    for (const template of [stateful, stateless]) {
      for (const group of resourcesOfType(template, 'AWS::Logs::LogGroup')) {
        expect(group.Properties.RetentionInDays).toBe(365);
        expect(group.DeletionPolicy).toBe('RetainExceptOnCreate');
      }
    }
  });
});

describe('stage configuration', () => {
  test('a payment provider URL given on the command line replaces the SSM lookup', () => {
    const app = synthesizeCheckout({
      stage: 'prod',
      bundle: false,
      context: { paymentProviderUrl: 'https://payments.example.com/' },
    });
    const urls = resourcesOfType(app.statelessTemplate, 'AWS::Lambda::Function')
      .map(
        (fn) =>
          (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
            .PAYMENT_PROVIDER_URL,
      )
      .filter((url) => url !== undefined);

    expect(urls.length).toBeGreaterThan(0);
    expect(new Set(urls)).toEqual(new Set(['https://payments.example.com']));
  });

  test("availability zones: the region's first zones by letter, or the ones -c availabilityZones names", () => {
    expect(availabilityZonesOf('eu-west-1', 3)).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect(availabilityZonesOf('us-west-1', 2, 'us-west-1b, us-west-1c')).toEqual([
      'us-west-1b',
      'us-west-1c',
    ]);
    expect(() => availabilityZonesOf('us-west-1', 2, 'us-east-1a,us-east-1b')).toThrow(
      /"us-east-1a" is not an availability zone of us-west-1/,
    );
    expect(() => availabilityZonesOf('eu-west-1', 3, 'eu-west-1a,eu-west-1b')).toThrow(
      /this stage spans 3 zones, got 2/,
    );
    expect(() => availabilityZonesOf('eu-west-1', 2, 'eu-west-1a,eu-west-1a')).toThrow(/repeats a zone/);
  });

  test(
    'a real account synthesizes offline: no lookup, the zones -c availabilityZones names',
    { timeout: SYNTH_TEST_TIMEOUT_MS },
    () => {
      const app = synthesizeCheckout({
        stage: 'prod',
        bundle: false,
        context: { account: '111122223333', availabilityZones: 'us-east-1b,us-east-1c,us-east-1d' },
      });
      const zones = resourcesOfType(app.statefulTemplate, 'AWS::EC2::Subnet').map(
        (subnet) => subnet.Properties.AvailabilityZone,
      );

      expect(app.stateful.account).toBe('111122223333');
      expect(app.assembly.manifest.missing).toBeUndefined();
      expect(new Set(zones)).toEqual(new Set(['us-east-1b', 'us-east-1c', 'us-east-1d']));
    },
  );

  test('refuses an unknown stage, naming it', () => {
    expect(() => stageConfig({ stage: 'qa' })).toThrow(/unknown stage "qa": use -c stage=dev\|staging\|prod/);
  });

  test('refuses a payment provider URL that is not https', () => {
    expect(() => stageConfig({ stage: 'prod', paymentProviderUrl: 'http://payments.example.com' })).toThrow(
      /must use https/,
    );
  });

  test('defaults to dev', () => {
    expect(stageConfig({}).stageName).toBe('dev');
  });
});
