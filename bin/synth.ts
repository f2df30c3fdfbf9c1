/**
 * `npm run synth`: synthesizes the app offline into `cdk.out`: the stacks of one stage (`-c stage`,
 * default dev) and the delivery pipeline with the staging and prod stages it deploys
 * (`Delivery/...`, lib/pipeline.ts), so the app's rule sets (cdk-nag and AWS Control Tower's
 * controls, lib/policy-validation.ts) run on the templates of every stage and a finding in any of
 * them fails it. Every stack is selected (`'**'`): the CLI reports the findings of nested stages
 * only for the stacks it selects. Other arguments go to `cdk synth` as they are. No AWS
 * credentials are needed, and the region defaults to us-east-1.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const started = performance.now();
const { status } = spawnSync(
  path.join(ROOT, 'node_modules/.bin/cdk'),
  ['synth', '--no-notices', '-q', ...process.argv.slice(2), '**'],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      CDK_DISABLE_CLI_TELEMETRY: '1',
      CDK_DISABLE_VERSION_CHECK: '1',
    },
  },
);
if (status !== 0) {
  process.stderr.write('synth: failed\n');
  process.exit(status ?? 1);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(`synth: every stage synthesized and checked in ${seconds} s\n`);
