import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * One hash over every `*.sql` file of a migrations folder: names and contents, in file order.
 *
 * The CDK app puts it on the migration custom resource, so the resource updates (and the runner
 * runs) exactly when a migration was added or changed. The handler recomputes it over the copy
 * bundled next to it to tell a deploy from a rollback (see `migrate.ts`). Synchronous because
 * CDK constructs are built synchronously.
 */
export function migrationsFingerprint(directory: string): string {
  const hash = createHash('sha256');
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  for (const file of files) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(directory, file)))
      .update('\0');
  }
  return hash.digest('hex');
}
