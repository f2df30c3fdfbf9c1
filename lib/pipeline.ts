import { type App, Stage } from 'aws-cdk-lib';
import { CheckoutStage } from './checkout-stage.js';
import { stageConfig } from './config.js';
import { type PipelineContext, type PipelineSettings, pipelineSettings } from './pipeline-settings.js';
import { PipelineStack } from './pipeline-stack.js';

export interface DeliveryPipeline {
  readonly settings: PipelineSettings;
  readonly stack: PipelineStack;
  readonly staging: CheckoutStage;
  readonly production: CheckoutStage;
}

/**
 * Adds the delivery pipeline and the two stages it deploys to the app, all inside a `Delivery`
 * stage: `cdk deploy --all` and `cdk destroy --all` (the stacks of `-c stage=...`) never touch them;
 * the pipeline is deployed by name, `npx cdk deploy Delivery/Pipeline` (docs/deploy.md).
 * Settings come from the context (lib/pipeline-settings.ts).
 */
export function addDeliveryPipeline(app: App): DeliveryPipeline {
  const context = (key: keyof PipelineContext | 'opsEmail'): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const settings = pipelineSettings({
    pipelineConnectionArn: context('pipelineConnectionArn'),
    pipelineRepository: context('pipelineRepository'),
    pipelineBranch: context('pipelineBranch'),
    pipelineAccount: context('pipelineAccount'),
    pipelineRegion: context('pipelineRegion'),
    prodAccount: context('prodAccount'),
  });
  const opsEmail = context('opsEmail');

  const delivery = new Stage(app, 'Delivery');
  const staging = new CheckoutStage(delivery, 'Staging', {
    env: { account: settings.account, region: settings.region },
    config: stageConfig({ stage: 'staging', opsEmail }),
  });
  const production = new CheckoutStage(delivery, 'Prod', {
    env: { account: settings.prodAccount, region: settings.region },
    config: stageConfig({ stage: 'prod', opsEmail }),
  });
  const stack = new PipelineStack(delivery, 'Pipeline', {
    env: { account: settings.account, region: settings.region },
    stackName: 'checkout-pipeline',
    description: 'Checkout: the delivery pipeline (build, staging, smoke test, bake, permissions gate, prod)',
    terminationProtection: true,
    settings,
    staging,
    production,
  });
  return { settings, stack, staging, production };
}
