/**
 * `npm run redrive`: the short form of `npm run ops -- redrive`, the local twin of the console's
 * "Start DLQ redrive". Moves every message of the compensation DLQ back to its source queue
 * (options such as `--stage <name>` pass through).
 */
import { runOps } from '../tools/ops/cli.js';

process.exitCode = await runOps(['redrive', ...process.argv.slice(2)]);
