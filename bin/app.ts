#!/usr/bin/env node
/**
 * The CDK app: the stacks of one stage, `npx cdk synth -c stage=dev|staging|prod` (default dev), and
 * the delivery pipeline with the staging and prod stages it deploys (`Delivery/...`, lib/pipeline.ts).
 * The stacks are defined in lib/.
 */
import { App } from 'aws-cdk-lib';
import { addCheckoutStacks } from '../lib/checkout-app.js';
import { addDeliveryPipeline } from '../lib/pipeline.js';

const app = new App();
addCheckoutStacks(app);
addDeliveryPipeline(app);
