import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { stageConfig } from '../../lib/config.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
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
    expect(instance?.DeletionPolicy).toBe('Retain');
    expect(instance?.UpdateReplacePolicy).toBe('Retain');
  });

  test('tables, queues, the user pool and the ops key are retained', () => {
    for (const type of [
      'AWS::DynamoDB::Table',
      'AWS::SQS::Queue',
      'AWS::Cognito::UserPool',
      'AWS::KMS::Key',
    ]) {
      const resources = resourcesOfType(stateful, type);
      expect(resources.length, type).toBeGreaterThan(0);
      for (const resource of resources) expect(resource.DeletionPolicy, type).toBe('Retain');
    }
    for (const table of resourcesOfType(stateful, 'AWS::DynamoDB::Table')) {
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
    const [pool] = resourcesOfType(stateful, 'AWS::Cognito::UserPool');
    expect(pool?.Properties).toMatchObject({ DeletionProtection: 'ACTIVE', UserPoolTier: 'PLUS' });
  });

  test('one NAT gateway per availability zone', () => {
    stateful.resourceCountIs('AWS::EC2::NatGateway', 3);
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
        expect(group.DeletionPolicy).toBe('Retain');
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
