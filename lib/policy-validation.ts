/**
 * The rule sets every synth of the app runs (docs/adr/0021-control-tower-rules-and-retained-resources.md):
 * cdk-nag's AwsSolutions checks and AWS Control Tower's proactive controls. A finding that is not
 * acknowledged on its construct, with a reason, fails the synth.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  Aspects,
  CfnResource,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The plugin name of the Control Tower rules, and so the prefix of their acknowledgements. */
export const CONTROL_TOWER = 'Control Tower';
const NAMESPACE = CONTROL_TOWER.replaceAll(' ', '-');

const require = createRequire(import.meta.url);
const VALIDATOR_PACKAGE = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
const RULES_DIR = path.join(VALIDATOR_PACKAGE, 'rules', 'control-tower', 'cfn-guard');
const RESOURCE_TYPE = /AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g;
const CONTROL_ID = /^CT\.[A-Z0-9]+\.PR\.\d+$/;

/** A Control Tower rule file (`ct-lambda-pr-3.guard`) and the resource types it reads. */
interface GuardRule {
  readonly name: string;
  readonly resourceTypes: ReadonlySet<string>;
}

/**
 * AWS Control Tower's proactive controls, the cfn-guard rules `@cdklabs/cdk-validator-cfnguard`
 * ships with its `cfn-guard` binary (Linux and macOS, x64 and arm64), as a CDK policy-validation
 * plugin. Two things on top of that package's own plugin:
 *
 * - Only the rules that can apply run: cfn-guard reads the whole template once per rule file, so
 *   the 237 rules cost seconds per stack, and a rule that names none of the resource types of the
 *   templates can only skip. Every rule starts from `Resources.*[ Type == ... ]`, so a rule file
 *   that mentions no type present is safe to leave out; one that mentions a type present runs.
 * - Violations are named by their control (`CT.LAMBDA.PR.3`, as AWS documents them) instead of
 *   the guard rule's internal name, so acknowledgements read `Control-Tower::CT.LAMBDA.PR.3`.
 */
export class ControlTowerRules implements IPolicyValidationPlugin {
  readonly name = CONTROL_TOWER;
  readonly version: string;
  readonly ruleIds: string[];
  private readonly rules: readonly GuardRule[];

  constructor() {
    this.version = (
      JSON.parse(readFileSync(path.join(VALIDATOR_PACKAGE, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    this.rules = readdirSync(RULES_DIR, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.guard'))
      .map((entry) => {
        const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
        return {
          name: entry.name.replace(/\.guard$/, ''),
          resourceTypes: new Set(text.match(RESOURCE_TYPE)),
        };
      });
    this.ruleIds = this.rules.map((rule) => controlOfRuleFile(rule.name));
  }

  /** The rule files worth running on templates holding these resource types. */
  applicableRules(resourceTypes: ReadonlySet<string>): string[] {
    return this.rules
      .filter(
        (rule) => rule.resourceTypes.size === 0 || [...rule.resourceTypes].some((t) => resourceTypes.has(t)),
      )
      .map((rule) => rule.name);
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const present = new Set<string>();
    for (const templatePath of context.templatePaths) {
      const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
        Resources?: Record<string, { Type: string }>;
      };
      for (const resource of Object.values(template.Resources ?? {})) present.add(resource.Type);
    }
    const applicable = new Set(this.applicableRules(present));
    if (applicable.size === 0) return { success: true, violations: [] };

    const guard = new CfnGuardValidator({
      disabledRules: this.rules.map((rule) => rule.name).filter((name) => !applicable.has(name)),
      // cfn-guard's JSON output grows with every failing check; Node's default 1 MB buffer is too small.
      maxBuffer: 256 * 1024 * 1024,
    });
    const report = guard.validate(context);
    const violations = report.violations.map((violation) => {
      const [, control, description] =
        /^\[(CT\.[A-Z0-9]+\.PR\.\d+)\]:\s*(.*)$/s.exec(violation.description) ?? [];
      // An explicit severity: once some findings are acknowledged, CDK fails the synth only on the
      // remaining ones marked as errors, and the package's plugin marks none.
      return {
        ...violation,
        severity: 'error',
        ...(control ? { ruleName: control, description: description ?? violation.description } : {}),
      };
    });
    return { success: violations.length === 0, violations };
  }
}

/** `ct-lambda-pr-3` → `CT.LAMBDA.PR.3`. */
function controlOfRuleFile(name: string): string {
  return name.replace(/^ct-/, 'CT-').toUpperCase().replaceAll('-', '.');
}

const registered = new WeakSet<IConstruct>();

/**
 * Runs both rule sets on every stack of the app that `scope` belongs to, whatever stage or stack
 * it is (the checkout stacks of each stage, a pipeline stack): the plugins sit on the root App,
 * which validates every stack under it, nested stages included. Registered once per app.
 */
export function addPolicyValidation(scope: IConstruct): void {
  const root = scope.node.root;
  if (registered.has(root)) return;
  registered.add(root);
  Validations.of(root).addPlugins(new AwsSolutionsChecks(root), new ControlTowerRules());
}

/**
 * Accepts a Control Tower control's finding on a construct and everything under it, with the reason
 * (the synth report prints it next to the finding). The same mechanism as the cdk-nag
 * acknowledgements (`Validations.acknowledge`).
 */
export function acknowledgeControl(scope: IConstruct, control: string, reason: string): void {
  if (!CONTROL_ID.test(control)) {
    throw new Error(`"${control}" is not a Control Tower control id (CT.<SERVICE>.PR.<n>)`);
  }
  if (reason.trim().length < 20) {
    throw new Error(`acknowledging ${control} on ${scope.node.path} needs a reason, got "${reason}"`);
  }
  Validations.of(scope).acknowledge({ id: `${NAMESPACE}::${control}`, reason });
}

/**
 * Accepts a finding the rule gets wrong, saying why: the reason reads "False positive of <control>:
 * <why>".
 */
export function acknowledgeFalsePositive(scope: IConstruct, control: string, why: string): void {
  acknowledgeControl(scope, control, `False positive of ${control}: ${why}`);
}

/**
 * Accepts a control on every resource of a CloudFormation type under `scope`, including resources
 * added later (an aspect): for a choice that holds for a whole kind of resource.
 */
export function acknowledgeControlOnEvery(
  scope: IConstruct,
  resourceType: string,
  control: string,
  reason: string,
): void {
  Aspects.of(scope).add({
    visit(node: IConstruct) {
      if (CfnResource.isCfnResource(node) && node.cfnResourceType === resourceType) {
        acknowledgeControl(node, control, reason);
      }
    },
  });
}
