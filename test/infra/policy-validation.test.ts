import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, type IPolicyValidationContext, type PolicyViolation, Stack, Stage } from 'aws-cdk-lib';
import { CfnSubnet } from 'aws-cdk-lib/aws-ec2';
import { describe, expect, test } from 'vitest';
import {
  acknowledgeControl,
  acknowledgeFalsePositive,
  addPolicyValidation,
  ControlTowerRules,
} from '../../lib/policy-validation.js';
import { SYNTH_TEST_TIMEOUT_MS, synthesizeCheckout } from './support/checkout-app.js';

/** A plain template with one finding of several kinds: what the two plugins are compared on. */
const FINDINGS_TEMPLATE = {
  Resources: {
    PublicSubnet: {
      Type: 'AWS::EC2::Subnet',
      Properties: { VpcId: 'vpc-0123456789abcdef0', CidrBlock: '10.0.0.0/24', MapPublicIpOnLaunch: true },
    },
    Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } },
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      },
    },
    Function: {
      Type: 'AWS::Lambda::Function',
      Properties: { Role: 'arn:aws:iam::123456789012:role/x', Code: { ZipFile: 'x' }, Runtime: 'nodejs24.x' },
    },
  },
};

/** The message a synth fails with. */
function synthError(synth: () => unknown): string {
  try {
    synth();
  } catch (error) {
    return String((error as Error).message);
  }
  throw new Error('the synth passed');
}

function templateFile(template: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'checkout-guard-')), 'Test.template.json');
  writeFileSync(file, JSON.stringify(template));
  return file;
}

/** `CT.X.PR.n logicalId` of every violating resource, whichever way the plugin names the rule. */
function findings(violations: readonly PolicyViolation[]) {
  return violations
    .flatMap((violation) => {
      const control = /^\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(violation.description)?.[1] ?? violation.ruleName;
      return violation.violatingResources.map((resource) => `${control} ${resource.resourceLogicalId}`);
    })
    .sort();
}

describe('AWS Control Tower proactive controls in every synth', () => {
  test(
    'a subnet that gives instances public IPs fails the synth of the app, naming the control and the subnet',
    { timeout: SYNTH_TEST_TIMEOUT_MS },
    () => {
      const message = synthError(() =>
        synthesizeCheckout({
          stage: 'dev',
          bundle: false,
          beforeSynth: ({ stateful }) => {
            const subnet = stateful.network.vpc.publicSubnets[0]?.node.defaultChild as CfnSubnet;
            subnet.mapPublicIpOnLaunch = true;
          },
        }),
      );

      expect(message).toMatch(/^ERROR .*\(Control Tower\)$/m);
      expect(message).toContain('Stateful/Network/Vpc/PublicSubnet1/Subnet');
      expect(message).toContain("Acknowledge with 'Control-Tower::CT.EC2.PR.11'");
    },
  );

  test('the rules run on every stack of the app, a stack of a nested stage included, wherever they were added', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'checkout-cdk-')) });
    const checkout = new Stack(new Stage(app, 'Staging'), 'Checkout');
    new CfnSubnet(checkout, 'Private', { vpcId: 'vpc-0123456789abcdef0', cidrBlock: '10.0.1.0/24' });
    const pipeline = new Stack(new Stage(app, 'Pipeline'), 'Network');
    new CfnSubnet(pipeline, 'Public', {
      vpcId: 'vpc-0123456789abcdef0',
      cidrBlock: '10.0.0.0/24',
      mapPublicIpOnLaunch: true,
    });

    addPolicyValidation(checkout);
    const message = synthError(() => app.synth());

    expect(message).toContain('Pipeline/Network/Public (Public)');
    expect(message).toContain("Acknowledge with 'Control-Tower::CT.EC2.PR.11'");
    expect(message).not.toContain('Staging/Checkout/Private');
  });

  test('running only the rules that can apply finds what running all of them finds', () => {
    const context = { templatePaths: [templateFile(FINDINGS_TEMPLATE)] } as IPolicyValidationContext;

    const all = new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }).validate(context);
    const selected = new ControlTowerRules().validate(context);

    expect(findings(all.violations).length).toBeGreaterThan(5);
    expect(findings(selected.violations)).toEqual(findings(all.violations));
    expect(selected.success).toBe(false);
    for (const violation of selected.violations) expect(violation.severity).toBe('error');
  });

  test('a rule file is left out only when it names no resource type present', () => {
    const rules = new ControlTowerRules();
    const applicable = rules.applicableRules(new Set(['AWS::EC2::Subnet']));

    expect(applicable).toContain('ct-ec2-pr-11');
    expect(applicable).not.toContain('ct-s3-pr-1');
    expect(rules.applicableRules(new Set(['AWS::CDK::Metadata']))).toEqual([]);
    expect(rules.ruleIds).toContain('CT.LAMBDA.PR.3');
  });

  test('an acknowledgement names a real control and carries a reason', () => {
    const scope = new Stack(new App(), 'Test');

    expect(() => acknowledgeControl(scope, 'CT.EC2.PR.11', '')).toThrow(/needs a reason/);
    expect(() => acknowledgeControl(scope, 'EC2.PR.11', 'a reason that is long enough')).toThrow(
      /not a Control Tower control id/,
    );
    acknowledgeFalsePositive(scope, 'CT.LAMBDA.PR.2', 'the SourceArn is an Fn::Join the rule cannot read');
    expect(scope.node.metadata.map((entry) => entry.data)).toContainEqual({
      'Control-Tower::CT.LAMBDA.PR.2':
        'False positive of CT.LAMBDA.PR.2: the SourceArn is an Fn::Join the rule cannot read',
    });
  });
});
