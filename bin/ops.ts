/**
 * `npm run ops -- <command>`: the operator's tool, against the local stack by default and a
 * deployed stage with `--stage <name>`. See tools/ops/cli.ts for the commands and docs/runbooks.
 */
import { runOps } from '../tools/ops/cli.js';

process.exitCode = await runOps(process.argv.slice(2));
