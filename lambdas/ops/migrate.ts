import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import type { Sql } from '../../src/db/client.js';
import { isDatabaseNotReachableYet } from '../../src/db/errors.js';
import { migrate } from '../../src/db/migrations.js';
import { APPLICATION_ROLE, setRolePassword } from '../../src/db/roles.js';
import { containerMigrations } from '../../src/roots/migrations.js';
import { describeError } from '../../src/runtime/errors.js';
import { logger } from '../../src/runtime/observability.js';
import { perContainer } from '../../src/runtime/per-container.js';
import { migrationsFingerprint } from './migrations-fingerprint.js';

/** The custom resource's properties, as the CDK app sets them (`lib/constructs/schema-migrations.ts`). */
export interface SchemaMigrationsProperties {
  readonly ServiceToken: string;
  /** `migrationsFingerprint` of the migrations folder the deploy was synthesized from. */
  readonly MigrationsFingerprint: string;
}

export interface SchemaMigrationsData {
  /** Files applied by this run, comma separated; empty when the schema was up to date. */
  readonly Applied: string;
  readonly Fingerprint: string;
}

/** One schema per database: the resource's identity never changes, so CloudFormation never replaces it. */
export const SCHEMA_MIGRATIONS_RESOURCE_ID = 'checkout-schema-migrations';

export interface MigrationHandlerOptions {
  /** The pool to migrate with; called again for each connection attempt. */
  readonly sql: () => Sql;
  /** The migrations folder bundled with the function. */
  readonly directory: string;
  /**
   * How long to keep retrying while the database is not reachable yet: a new proxy takes a while to
   * register its target (minutes on a first deploy) and a new `rds-db:connect` grant takes a while
   * to propagate.
   * @default 360_000
   */
  readonly connectDeadlineMs?: number;
  /** @default 5_000 */
  readonly retryIntervalMs?: number;
  readonly log?: (message: string, details?: Record<string, unknown>) => void;
  /**
   * The application role's password, set after migrating (RDS Proxy logs in as the role with the
   * password of its secret). @default - the role's password is left as it is
   */
  readonly applicationPassword?: () => Promise<string>;
}

/** The database stayed unreachable until the deadline; the deploy fails and rolls back. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/**
 * The onEvent handler of the schema-migrations custom resource (CDK Provider framework).
 *
 * Create and Update run the project's migration runner (`src/db/migrations.ts`: one transaction,
 * advisory lock, checksums); any error it throws fails the deploy. Delete does nothing: migrations
 * are forward-only and the data outlives the resource.
 *
 * Rollbacks: when a deploy fails after this resource updated, CloudFormation sends an Update with
 * the previous fingerprint while this function may already run the new bundle. The schema cannot
 * move backwards, and a failed run applied nothing (one transaction), so when the requested
 * fingerprint is not the bundled one the handler succeeds without touching the database; failing
 * there would leave the stack in UPDATE_ROLLBACK_FAILED.
 */
export function createMigrationHandler(options: MigrationHandlerOptions) {
  const log = options.log ?? ((message, details) => logger.info(message, { ...details }));
  const connectDeadlineMs = options.connectDeadlineMs ?? 360_000;
  const retryIntervalMs = options.retryIntervalMs ?? 5_000;

  return async (
    event: CdkCustomResourceEvent<SchemaMigrationsProperties>,
  ): Promise<CdkCustomResourceResponse<SchemaMigrationsData>> => {
    if (event.RequestType === 'Delete') {
      log('schema migrations resource deleted; the schema is left as it is');
      return { PhysicalResourceId: event.PhysicalResourceId };
    }

    const bundled = migrationsFingerprint(options.directory);
    const requested = event.ResourceProperties.MigrationsFingerprint;
    if (requested !== bundled) {
      if (event.RequestType === 'Update') {
        log('requested migrations are not the bundled ones (stack rollback); schema left as it is', {
          requested,
          bundled,
        });
        return {
          PhysicalResourceId: event.PhysicalResourceId,
          Data: { Applied: '', Fingerprint: requested },
        };
      }
      throw new Error(
        `the migrations bundled with this function (${bundled}) are not the ones this deploy was built from (${requested})`,
      );
    }

    const deadline = Date.now() + connectDeadlineMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await migrate(options.sql(), {
          directory: options.directory,
          log: (message) => log(message),
        });
        log('schema migrations done', { applied: result.applied, alreadyApplied: result.alreadyApplied });
        if (options.applicationPassword) {
          await setRolePassword(options.sql(), APPLICATION_ROLE, await options.applicationPassword());
          log('application role password set from its secret', { role: APPLICATION_ROLE });
        }
        return {
          PhysicalResourceId: SCHEMA_MIGRATIONS_RESOURCE_ID,
          Data: { Applied: result.applied.join(','), Fingerprint: bundled },
        };
      } catch (error) {
        if (!isDatabaseNotReachableYet(error)) throw error;
        if (Date.now() + retryIntervalMs > deadline) {
          throw new DatabaseUnreachableError(`the database was not reachable after ${attempt} attempts`, {
            cause: error,
          });
        }
        log('database not reachable yet; retrying', { attempt, error: describeError(error) });
        await sleep(retryIntervalMs);
      }
    }
  };
}

const deployedHandler = perContainer(() =>
  createMigrationHandler({
    ...containerMigrations(),
    directory: path.join(import.meta.dirname, 'migrations'),
  }),
);

/** Deployed handler: the pool from the configuration (RDS Proxy, IAM auth, TLS), migrations bundled alongside. */
export const handler = (event: CdkCustomResourceEvent<SchemaMigrationsProperties>) =>
  deployedHandler()(event);
