import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import type { Sql } from 'postgres';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createMigrationHandler,
  DatabaseUnreachableError,
  SCHEMA_MIGRATIONS_RESOURCE_ID,
  type SchemaMigrationsProperties,
} from '../../lambdas/ops/migrate.js';
import { migrationsFingerprint } from '../../lambdas/ops/migrations-fingerprint.js';
import { createSql } from '../../src/db/client.js';
import { loadMigrations, MigrationChecksumMismatchError } from '../../src/db/migrations.js';
import { APPLICATION_ROLE, urlForRole } from '../../src/db/roles.js';
import {
  APPLICATION_ROLE_TEST_PASSWORD,
  createTestDatabase,
  MIGRATIONS_DIR,
  type TestDatabase,
} from '../support/database.js';

type MigrationEvent = CdkCustomResourceEvent<SchemaMigrationsProperties>;

const common = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  ResponseURL: 'https://cloudformation-custom-resource-response.example/ignored',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/checkout-dev-stateful/1',
  LogicalResourceId: 'SchemaMigrationsA6E9AE51',
  ResourceType: 'Custom::SchemaMigrations',
};

function properties(fingerprint: string): SchemaMigrationsProperties {
  return { ServiceToken: common.ServiceToken, MigrationsFingerprint: fingerprint };
}

/** CloudFormation custom-resource events, as the Provider framework hands them to the handler. */
const events = {
  create: (fingerprint: string): MigrationEvent => ({
    ...common,
    RequestType: 'Create',
    RequestId: 'create-1',
    ResourceProperties: properties(fingerprint),
  }),
  update: (fingerprint: string, previous: string): MigrationEvent => ({
    ...common,
    RequestType: 'Update',
    RequestId: 'update-1',
    PhysicalResourceId: SCHEMA_MIGRATIONS_RESOURCE_ID,
    ResourceProperties: properties(fingerprint),
    OldResourceProperties: properties(previous),
  }),
  delete: (fingerprint: string): MigrationEvent => ({
    ...common,
    RequestType: 'Delete',
    RequestId: 'delete-1',
    PhysicalResourceId: SCHEMA_MIGRATIONS_RESOURCE_ID,
    ResourceProperties: properties(fingerprint),
  }),
};

describe('schema migrations custom resource handler (real PostgreSQL)', () => {
  let db: TestDatabase;
  let directory: string;
  const silent = () => {};

  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
    // The handler works on its bundled copy; tests edit a copy of their own.
    directory = await mkdtemp(path.join(tmpdir(), 'bundled-migrations-'));
    await cp(MIGRATIONS_DIR, directory, { recursive: true });
  });

  afterEach(async () => {
    await db.drop();
    await rm(directory, { recursive: true, force: true });
  });

  function handlerFor(sql: () => Sql = () => db.sql) {
    return createMigrationHandler({
      sql,
      directory,
      log: silent,
      retryIntervalMs: 50,
      connectDeadlineMs: 2_000,
    });
  }

  async function appliedVersions(): Promise<number[]> {
    const rows = await db.sql<{ version: number }[]>`select version from schema_migrations order by version`;
    return rows.map((row) => row.version);
  }

  test('Create applies every migration to a fresh database', async () => {
    const files = (await loadMigrations(directory)).map((migration) => migration.file);

    const response = await handlerFor()(events.create(migrationsFingerprint(directory)));

    expect(response.PhysicalResourceId).toBe(SCHEMA_MIGRATIONS_RESOURCE_ID);
    expect(response.Data?.Applied).toBe(files.join(','));
    expect(await appliedVersions()).toEqual(files.map((file) => Number(file.slice(0, 4))));
  });

  test("after migrating, sets the application role's password from its secret, so the proxy can log in as it", async () => {
    const verifier = async () =>
      (
        await db.sql<{ rolpassword: string | null }[]>`
        select rolpassword from pg_authid where rolname = ${APPLICATION_ROLE}
      `
      )[0]?.rolpassword;
    const before = await verifier();
    const handler = createMigrationHandler({
      sql: () => db.sql,
      directory,
      log: silent,
      applicationPassword: async () => APPLICATION_ROLE_TEST_PASSWORD,
    });

    await handler(events.create(migrationsFingerprint(directory)));

    expect(await verifier()).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(await verifier()).not.toBe(before);
    const app = createSql(urlForRole(db.url, APPLICATION_ROLE, APPLICATION_ROLE_TEST_PASSWORD), { max: 1 });
    const [row] = await app<{ user: string }[]>`select current_user as user`;
    await app.end();
    expect(row?.user).toBe(APPLICATION_ROLE);
  });

  test('running again with the same migrations changes nothing', async () => {
    const fingerprint = migrationsFingerprint(directory);
    await handlerFor()(events.create(fingerprint));
    const before = await appliedVersions();

    const response = await handlerFor()(events.update(fingerprint, fingerprint));

    expect(response.Data?.Applied).toBe('');
    expect(response.PhysicalResourceId).toBe(SCHEMA_MIGRATIONS_RESOURCE_ID);
    expect(await appliedVersions()).toEqual(before);
  });

  test('a new migration file is applied on the next deploy, alone', async () => {
    const first = migrationsFingerprint(directory);
    await handlerFor()(events.create(first));
    await writeFile(
      path.join(directory, '0999_add_note.sql'),
      'alter table products add column note text;\n',
    );

    const response = await handlerFor()(events.update(migrationsFingerprint(directory), first));

    expect(response.Data?.Applied).toBe('0999_add_note.sql');
    const [column] = await db.sql`
      select 1 from information_schema.columns where table_name = 'products' and column_name = 'note'
    `;
    expect(column).toBeDefined();
  });

  test('an edited, already applied migration fails the deploy, naming the file, and applies nothing', async () => {
    const first = migrationsFingerprint(directory);
    await handlerFor()(events.create(first));
    const before = await appliedVersions();
    const edited = path.join(directory, '0001_schema.sql');
    await writeFile(edited, `${await readFile(edited, 'utf8')}\n-- an edit after the fact\n`);

    const run = handlerFor()(events.update(migrationsFingerprint(directory), first));

    await expect(run).rejects.toBeInstanceOf(MigrationChecksumMismatchError);
    await expect(run).rejects.toThrow(/0001_schema\.sql/);
    expect(await appliedVersions()).toEqual(before);
  });

  test('a failing migration fails the deploy and leaves the schema as it was', async () => {
    const first = migrationsFingerprint(directory);
    await handlerFor()(events.create(first));
    const before = await appliedVersions();
    await writeFile(
      path.join(directory, '0999_broken.sql'),
      'alter table no_such_table add column x text;\n',
    );

    const run = handlerFor()(events.update(migrationsFingerprint(directory), first));

    await expect(run).rejects.toThrow(/no_such_table/);
    expect(await appliedVersions()).toEqual(before);
  });

  test('a rollback (requested migrations are not the bundled ones) succeeds without touching the schema', async () => {
    const first = migrationsFingerprint(directory);
    await handlerFor()(events.create(first));
    await writeFile(
      path.join(directory, '0999_add_note.sql'),
      'alter table products add column note text;\n',
    );
    const before = await appliedVersions();

    // CloudFormation rolls the resource back to the old fingerprint while the new bundle is deployed.
    const response = await handlerFor()(events.update(first, migrationsFingerprint(directory)));

    expect(response.PhysicalResourceId).toBe(SCHEMA_MIGRATIONS_RESOURCE_ID);
    expect(response.Data?.Applied).toBe('');
    expect(await appliedVersions()).toEqual(before);
  });

  test('a Create whose fingerprint is not the bundled one fails instead of guessing', async () => {
    await expect(handlerFor()(events.create('not-the-bundled-fingerprint'))).rejects.toThrow(
      /not the ones this deploy was built from/,
    );
    const [table] = await db.sql`select to_regclass('schema_migrations') as name`;
    expect(table?.name).toBeNull();
  });

  test('Delete leaves the schema and its data alone', async () => {
    const fingerprint = migrationsFingerprint(directory);
    await handlerFor()(events.create(fingerprint));
    const before = await appliedVersions();

    const response = await handlerFor()(events.delete(fingerprint));

    expect(response.PhysicalResourceId).toBe(SCHEMA_MIGRATIONS_RESOURCE_ID);
    expect(await appliedVersions()).toEqual(before);
  });

  test('keeps retrying while the database is not reachable yet, then migrates', async () => {
    const unreachable = createSql('postgres://checkout@127.0.0.1:1/checkout', {
      max: 1,
      connectTimeoutSeconds: 1,
    });
    let attempts = 0;
    const sql = () => {
      attempts += 1;
      return attempts === 1 ? unreachable : db.sql;
    };

    const response = await handlerFor(sql)(events.create(migrationsFingerprint(directory)));

    expect(attempts).toBe(2);
    expect(response.Data?.Applied).not.toBe('');
    await unreachable.end();
  });

  test('gives up with DatabaseUnreachableError when the database never answers', async () => {
    const unreachable = createSql('postgres://checkout@127.0.0.1:1/checkout', {
      max: 1,
      connectTimeoutSeconds: 1,
    });
    const handler = createMigrationHandler({
      sql: () => unreachable,
      directory,
      log: silent,
      retryIntervalMs: 50,
      connectDeadlineMs: 300,
    });

    await expect(handler(events.create(migrationsFingerprint(directory)))).rejects.toBeInstanceOf(
      DatabaseUnreachableError,
    );
    await unreachable.end();
  });
});
