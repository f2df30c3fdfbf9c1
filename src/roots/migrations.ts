import type { ConfigOf } from '../config/declarations.js';
import { MIGRATION_FUNCTION } from '../config/functions.js';
import { perContainer } from '../runtime/per-container.js';
import { secretField } from '../runtime/secrets.js';
import { configurationFor } from './configuration.js';
import { containerPool } from './database.js';

/** The composition root of the schema migration runner (the deploy-time custom resource). */

/** The migration runner's pool and, when configured, the application role's password. */
export function createMigrationRoot(config: ConfigOf<typeof MIGRATION_FUNCTION>) {
  const secretArn = config.migrations.applicationSecretArn;
  return {
    sql: () => containerPool(config.database),
    ...(secretArn ? { applicationPassword: () => secretField(secretArn, 'password') } : {}),
  };
}

export const containerMigrations = /* @__PURE__ */ perContainer(() =>
  createMigrationRoot(configurationFor(MIGRATION_FUNCTION)),
);
