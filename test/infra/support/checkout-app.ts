import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { addCheckoutStacks, type CheckoutApp } from '../../../lib/checkout-app.js';
import { PROJECT_ROOT } from '../../../lib/constructs/checkout-function.js';
import { addDeliveryPipeline, type DeliveryPipeline } from '../../../lib/pipeline.js';

/** A synthesized checkout app: the stacks, their templates and the cloud assembly on disk. */
export interface SynthesizedCheckout extends CheckoutApp {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
}

export interface SynthesizeOptions {
  readonly stage: 'dev' | 'prod';
  /**
   * Bundle the functions with esbuild, as `cdk synth` does. Off, the templates are the same but the
   * code assets are placeholders: faster, for tests that do not open the bundles.
   * @default true
   */
  readonly bundle?: boolean;
  /** More context, e.g. `paymentProviderUrl`. */
  readonly context?: Record<string, string>;
}

/**
 * Builds the app exactly as `bin/app.ts` does, with the context the CDK CLI would pass: the
 * feature flags of cdk.json and the committed lookups of cdk.context.json (so no AWS call is
 * made). `app.synth()` runs the cdk-nag validation: an unacknowledged finding throws here.
 */
export function synthesizeCheckout(options: SynthesizeOptions): SynthesizedCheckout {
  const app = cliLikeApp(options);
  const checkout = addCheckoutStacks(app);
  const assembly = app.synth();
  return {
    ...checkout,
    app,
    assembly,
    statefulTemplate: Template.fromStack(checkout.stateful),
    statelessTemplate: Template.fromStack(checkout.stateless),
  };
}

/** The whole app as `bin/app.ts` builds it: the stacks of `-c stage`, and the delivery pipeline. */
export interface SynthesizedApp extends DeliveryPipeline {
  readonly checkout: CheckoutApp;
  readonly assembly: CloudAssembly;
  readonly pipelineTemplate: Template;
}

/** Builds and synthesizes the app exactly as `bin/app.ts` does (every validation plugin runs). */
export function synthesizeApp(options: Omit<SynthesizeOptions, 'stage'> = {}): SynthesizedApp {
  const app = cliLikeApp({ stage: 'dev', ...options });
  const checkout = addCheckoutStacks(app);
  const delivery = addDeliveryPipeline(app);
  const assembly = app.synth();
  return { ...delivery, checkout, assembly, pipelineTemplate: Template.fromStack(delivery.stack) };
}

function cliLikeApp(options: SynthesizeOptions): App {
  const cdkJson = readJson<{ context: Record<string, unknown> }>('cdk.json');
  const lookups = readJson<Record<string, unknown>>('cdk.context.json');
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'checkout-cdk-')),
    context: {
      ...cdkJson.context,
      ...lookups,
      // As the CLI sets them: resources name their construct path and their asset.
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
      ...options.context,
      stage: options.stage,
    },
  });
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(PROJECT_ROOT, file), 'utf8')) as T;
}
