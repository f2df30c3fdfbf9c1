/**
 * `npm run redrive`: the local twin of the console's "Start DLQ redrive". Moves every message of
 * the compensation DLQ of the running local stack back to its source queue.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalSqsClient, redriveDlq } from '../local/aws/sqs.js';
import { type LocalStackState, STATE_FILE } from '../local/stack.js';

const dataDir = path.resolve(process.env.LOCAL_DATA_DIR ?? '.local-data');
let state: LocalStackState;
try {
  state = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as LocalStackState;
} catch {
  console.error(`no local stack found in ${dataDir}: start it with npm start (or set LOCAL_DATA_DIR)`);
  process.exit(2);
}

const sqs = createLocalSqsClient(state.sqsEndpoint);
try {
  const moved = await redriveDlq(sqs, {
    dlqArn: state.compensationDlqArn,
    sourceArn: state.compensationQueueArn,
  });
  console.log(`moved ${moved} message(s) from the compensation DLQ back to the compensation queue`);
} catch (error) {
  console.error(
    `redrive failed: ${error instanceof Error ? error.message : String(error)} (is npm start running?)`,
  );
  process.exitCode = 1;
} finally {
  sqs.destroy();
}
