/**
 * Applies pending migrations to DATABASE_URL: `npm run migrate`.
 * The deploy-time custom resource and the local stack call the same runner.
 */
import path from 'node:path';
import { createSql } from '../src/db/client.js';
import { migrate } from '../src/db/migrations.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set: point it at the database to migrate');
  process.exit(2);
}

const sql = createSql(url, { max: 1 });
try {
  const result = await migrate(sql, {
    directory: path.resolve(import.meta.dirname, '../migrations'),
    log: (message) => console.log(message),
  });
  console.log(
    result.applied.length
      ? `applied ${result.applied.length} migration(s)`
      : `up to date (${result.alreadyApplied} migrations applied earlier)`,
  );
} catch (error) {
  console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await sql.end();
}
