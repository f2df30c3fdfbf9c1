#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth -c stage=dev|prod` (default dev). The stacks are defined in lib/.
 */
import { App } from 'aws-cdk-lib';
import { addCheckoutStacks } from '../lib/checkout-app.js';

addCheckoutStacks(new App());
