import type { IAspect } from 'aws-cdk-lib';
import { CfnDeploymentGroup } from 'aws-cdk-lib/aws-codedeploy';
import { CfnStateMachineAlias } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/** CodeDeploy's predefined configuration that shifts a Lambda alias in one step. */
export const LAMBDA_ALL_AT_ONCE = 'CodeDeployDefault.LambdaAllAtOnce';

/**
 * Makes every rollout of a stack shift at once, through the same CodeDeploy deployment groups and
 * state machine alias, with the same rollback alarms: for a stage with no customer traffic
 * (staging), where a canary would wait out its interval with nothing to judge. The stage's bake
 * after the smoke test is its observation window instead (docs/deploy.md, "Stage durations").
 */
export class AllAtOnceRollouts implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof CfnDeploymentGroup) {
      node.deploymentConfigName = LAMBDA_ALL_AT_ONCE;
    } else if (node instanceof CfnStateMachineAlias) {
      const preference = node.deploymentPreference as
        | CfnStateMachineAlias.DeploymentPreferenceProperty
        | undefined;
      if (preference) {
        node.deploymentPreference = {
          type: 'ALL_AT_ONCE',
          stateMachineVersionArn: preference.stateMachineVersionArn,
          ...(preference.alarms ? { alarms: preference.alarms } : {}),
        };
      }
    }
  }
}
