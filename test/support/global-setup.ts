import type { TestProject } from 'vitest/node';
import { prepareLocalBuild } from '../../local/lambda/build.js';
import startDatabase from './database-setup.js';

/**
 * The global setup of `npm test`: the local bundles, then the database server (see
 * `test/support/database-setup.ts`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Every end-to-end test starts `npm start`, which runs this build: make it once, up front.
  await prepareLocalBuild({ progress: (step) => console.log(`[local build] ${step}`) });
  return startDatabase(project);
}
