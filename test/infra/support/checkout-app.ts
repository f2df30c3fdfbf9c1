import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { addCheckoutStacks, type CheckoutApp } from '../../../lib/checkout-app.js';
import { PROJECT_ROOT } from '../../../lib/constructs/checkout-function.js';
import { addDeliveryPipeline, type DeliveryPipeline } from '../../../lib/pipeline.js';

/**
 * The time a test that synthesizes in its own body gets, like the hooks: a synth runs both rule
 * sets (cdk-nag, the Control Tower controls), which takes a while on two busy cores.
 */
export const SYNTH_TEST_TIMEOUT_MS = 180_000;

/** A synthesized checkout app: the stacks, their templates and the cloud assembly on disk. */
export interface SynthesizedCheckout extends CheckoutApp {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
}

export interface SynthesizeOptions {
  readonly stage: 'dev' | 'staging' | 'prod';
  /**
   * Bundle the functions with esbuild, as `cdk synth` does. Off, the templates are the same but the
   * code assets are placeholders: faster, for tests that do not open the bundles.
   * @default true
   */
  readonly bundle?: boolean;
  /** More context, e.g. `paymentProviderUrl`. */
  readonly context?: Record<string, string>;
  /** Changes the app before it synthesizes, e.g. to plant a resource the rule sets must refuse. */
  readonly beforeSynth?: (checkout: CheckoutApp) => void;
}

/**
 * Builds the app exactly as `bin/app.ts` does, with the context the CDK CLI would pass: the
 * feature flags of cdk.json (the app looks nothing up, so there is no cdk.context.json).
 * `app.synth()` runs the app's rule sets (cdk-nag and the Control Tower controls): an
 * unacknowledged finding throws here.
 */
export function synthesizeCheckout(options: SynthesizeOptions): SynthesizedCheckout {
  const app = cliLikeApp(options);
  const checkout = addCheckoutStacks(app);
  options.beforeSynth?.(checkout);
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
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'checkout-cdk-')),
    context: {
      ...cdkJson.context,
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
