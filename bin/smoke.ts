/**
 * `npm run smoke -- --target <url>`: the smoke test the delivery pipeline runs against staging and
 * CI runs against the local stack (tools/smoke/cli.ts, docs/deploy.md).
 */
import { runSmoke } from '../tools/smoke/cli.js';

process.exitCode = await runSmoke(process.argv.slice(2));
