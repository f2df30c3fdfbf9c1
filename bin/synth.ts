/**
 * `npm run synth`: synthesizes every stage of lib/config.ts, one `cdk synth -c stage=<stage>` each
 * into `cdk.out/<stage>`, so the app's rule sets (cdk-nag and AWS Control Tower's controls,
 * lib/policy-validation.ts) run on the templates of every stage and a finding in any of them fails
 * it. With `-- -c stage=<stage>`, that stage only; other arguments go to `cdk synth` as they are.
 * Offline: no AWS credentials are needed, and the region defaults to us-east-1.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { STAGE_NAMES } from '../lib/config.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const contextValues = args.flatMap((arg, index) =>
  arg === '-c' || arg === '--context' ? [args[index + 1] ?? ''] : [],
);
const named = contextValues.find((value) => value.startsWith('stage='))?.slice('stage='.length);

for (const stage of named ? [named] : STAGE_NAMES) {
  const started = performance.now();
  const { status } = spawnSync(
    path.join(ROOT, 'node_modules/.bin/cdk'),
    ['synth', '--no-notices', '-q', '-o', path.join('cdk.out', stage), '-c', `stage=${stage}`, ...args],
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
    process.stderr.write(`synth: stage ${stage} failed\n`);
    process.exit(status ?? 1);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`synth: stage ${stage} synthesized and checked in ${seconds} s\n`);
}
