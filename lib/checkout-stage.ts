import { type CfnOutput, Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { addStageStacks, type CheckoutStacks } from './checkout-app.js';
import type { StageConfig } from './config.js';
import type { StatefulStack } from './stateful-stack.js';
import type { StatelessStack } from './stateless-stack.js';

export interface CheckoutStageProps extends StageProps {
  readonly config: StageConfig;
}

/**
 * One stage of the service as the delivery pipeline deploys it (lib/pipeline.ts): the same two
 * stacks, under the same stack names, as `cdk deploy -c stage=<name>` creates.
 */
export class CheckoutStage extends Stage implements CheckoutStacks {
  readonly config: StageConfig;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;

  constructor(scope: Construct, id: string, props: CheckoutStageProps) {
    super(scope, id, props);
    if (!props.env?.account || !props.env.region) {
      throw new Error(`stage ${id} needs an explicit account and region, got ${JSON.stringify(props.env)}`);
    }
    this.config = props.config;
    const stacks = addStageStacks(this, props.config, {
      account: props.env.account,
      region: props.env.region,
    });
    this.stateful = stacks.stateful;
    this.stateless = stacks.stateless;
  }

  /** A stack output by its id (`ApiUrl`, `UserPoolId`, ...), for a pipeline step's environment. */
  output(stack: 'stateful' | 'stateless', outputId: string): CfnOutput {
    const output = this[stack].node.tryFindChild(outputId);
    if (!output) throw new Error(`the ${stack} stack of stage ${this.stageName} has no output ${outputId}`);
    return output as CfnOutput;
  }
}
