import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findFreePort } from '../../local/ports.js';
import { startLocalPostgres } from '../../local/postgres.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrations.js';
import { GUARD_MUTANT_VARIABLE, ORDER_FUNCTION_GUARDS, type OrderFunctionGuard } from './guards.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MIGRATIONS_DIR = path.join(ROOT, 'migrations');
const REPORT_DOC = path.join(ROOT, 'docs/testing.md');
const REPORT_BEGIN = '<!-- mutate:sql report begin -->';
const REPORT_END = '<!-- mutate:sql report end -->';
const MAX_TESTS_SHOWN = 4;

/**
 * The tests of the order functions themselves: each calls them through the service's OrderStore or
 * directly, on a database of its own. The query-plan test is left out on purpose: it would "catch"
 * a mutant by a changed plan, not by a changed outcome.
 */
export const DATABASE_TESTS = [
  'test/db/transitions.test.ts',
  'test/db/place-order.test.ts',
  'test/db/application-role.test.ts',
  'test/db/order-function-guards.test.ts',
  'test/db/fewer-round-trips.test.ts',
];

export const USAGE = `usage: npm run mutate:sql [-- --only <guard id>[,<guard id>…]] [--write]

  For each refusal of the PL/pgSQL order functions (tools/mutate-sql/guards.ts): in a scratch
  PostgreSQL, re-create the function from its live definition with that guard removed, run the
  database tests against it and report which tests fail. A guard no test catches fails the run.
  --write puts the report in docs/testing.md.`;

interface GuardResult {
  readonly guard: OrderFunctionGuard;
  /** "file: test name" of every test that failed with the guard removed. */
  readonly caughtBy: readonly string[];
}

/** Runs every guard (or those named) and returns the exit code: 0 all caught, 1 one was not, 2 usage. */
export async function runGuardMutations(argv: readonly string[]): Promise<number> {
  let values: { only?: string; write?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { only: { type: 'string' }, write: { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const guards = selectGuards(values.only);
  if (typeof guards === 'string') {
    console.error(`${guards}\n${USAGE}`);
    return 2;
  }

  const workDir = await mkdtemp(path.join(tmpdir(), 'checkout-mutate-sql-'));
  // As root, the server runs as `postgres` and must reach its data folder (test/support/database-setup.ts).
  await chmod(workDir, 0o755);
  const started = Date.now();
  const server = await startLocalPostgres({
    dataDir: path.join(workDir, 'data'),
    port: await findFreePort(),
    ephemeral: true,
  });
  try {
    const scratch = await scratchDatabase(server.adminUrl);
    let mutants: { guard: OrderFunctionGuard; sql: string }[];
    try {
      mutants = [];
      for (const guard of guards) mutants.push({ guard, sql: await withoutGuard(scratch, guard) });
    } finally {
      await scratch.end();
    }

    console.log(`baseline: ${DATABASE_TESTS.length} test files on the migrations as they are`);
    const baseline = await runDatabaseTests(server.adminUrl, workDir, undefined);
    if (baseline.length > 0) {
      console.error(
        `the database tests fail without any mutant; fix them first:\n  ${baseline.join('\n  ')}`,
      );
      return 1;
    }

    const results: GuardResult[] = [];
    for (const [index, { guard, sql }] of mutants.entries()) {
      const file = path.join(workDir, `${guard.id}.sql`);
      await writeFile(file, sql);
      const caughtBy = await runDatabaseTests(server.adminUrl, workDir, file);
      results.push({ guard, caughtBy });
      console.log(
        `[${index + 1}/${mutants.length}] ${guard.id}: ${caughtBy.length > 0 ? `caught by ${caughtBy.length}` : 'NOT CAUGHT'}`,
      );
    }

    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const report = formatReport(results, minutes);
    console.log(`\n${report}`);
    if (values.write) await writeReport(report);
    return results.every((result) => result.caughtBy.length > 0) ? 0 : 1;
  } finally {
    await server.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

function selectGuards(only: string | undefined): readonly OrderFunctionGuard[] | string {
  if (!only) return ORDER_FUNCTION_GUARDS;
  const ids = only.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !ORDER_FUNCTION_GUARDS.some((guard) => guard.id === id));
  if (unknown.length > 0) return `unknown guard: ${unknown.join(', ')}`;
  return ORDER_FUNCTION_GUARDS.filter((guard) => ids.includes(guard.id));
}

/** A database with every migration applied, to read the live definitions from. */
async function scratchDatabase(adminUrl: string): Promise<Sql> {
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe('create database guards_scratch');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = '/guards_scratch';
  const sql = createSql(url.toString(), { max: 1 });
  await migrate(sql, { directory: MIGRATIONS_DIR });
  return sql;
}

/**
 * The function's live definition with the guard removed, checked to compile: `create or replace`
 * keeps the function's grants, and pg_get_functiondef restates its settings (security definer,
 * search path, plan cache mode).
 */
async function withoutGuard(sql: Sql, guard: OrderFunctionGuard): Promise<string> {
  const definitions = await sql<{ definition: string }[]>`
    select pg_get_functiondef(p.oid) as definition
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and p.proname = ${guard.functionName}
  `;
  if (definitions.length !== 1) {
    throw new Error(`${guard.id}: expected one function ${guard.functionName}, found ${definitions.length}`);
  }
  const definition = (definitions[0] as { definition: string }).definition;
  const occurrences = definition.split(guard.find).length - 1;
  if (occurrences !== 1) {
    throw new Error(
      `${guard.id}: its text is in ${guard.functionName}'s live definition ${occurrences} times, not once; ` +
        'a migration rewrote the function: bring tools/mutate-sql/guards.ts up to date with it',
    );
  }
  const mutant = `${definition.replace(guard.find, guard.replace)};\n`;
  await sql
    .begin(async (tx) => {
      await tx.unsafe(mutant);
      throw new RolledBack();
    })
    .catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  return mutant;
}

class RolledBack extends Error {
  override readonly name = 'RolledBack';
}

/** Runs the database tests on the server, with the mutant applied; returns the tests that failed. */
async function runDatabaseTests(adminUrl: string, workDir: string, mutantFile: string | undefined) {
  const outputFile = path.join(workDir, 'vitest-report.json');
  await rm(outputFile, { force: true });
  // These tests, whatever the mutation configuration's own list.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: adminUrl,
    MUTATION_TESTS: DATABASE_TESTS.join(','),
  };
  if (mutantFile) env[GUARD_MUTANT_VARIABLE] = mutantFile;
  else delete env[GUARD_MUTANT_VARIABLE];
  const args = [
    path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--config',
    'vitest.mutation.config.ts',
    '--reporter=json',
    `--outputFile=${outputFile}`,
    ...DATABASE_TESTS,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
  let report: VitestJsonReport;
  try {
    report = JSON.parse(await readFile(outputFile, 'utf8')) as VitestJsonReport;
  } catch {
    throw new Error(`vitest wrote no report; its last output:\n${stderr}`);
  }
  return failedTests(report);
}

interface VitestJsonReport {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { title: string; status: string }[];
  }[];
}

function failedTests(report: VitestJsonReport): string[] {
  const failed: string[] = [];
  for (const file of report.testResults) {
    const base = path.basename(file.name, '.test.ts');
    const tests = file.assertionResults.filter((test) => test.status === 'failed');
    for (const test of tests) failed.push(`${base}: ${test.title}`);
    // A failure outside any test (a hook, the file's import) still fails the file.
    if (tests.length === 0 && file.status === 'failed') failed.push(`${base}: (outside a test)`);
  }
  return failed;
}

function formatReport(results: readonly GuardResult[], minutes: string): string {
  const caught = results.filter((result) => result.caughtBy.length > 0).length;
  const lines = [
    `${caught} of ${results.length} guards caught; ${DATABASE_TESTS.length} test files per mutant; ` +
      `${minutes} min on the machine that ran it.`,
    '',
    '| Guard | Function | Refuses | Caught by |',
    '|---|---|---|---|',
  ];
  for (const { guard, caughtBy } of results) {
    lines.push(
      `| \`${guard.id}\` | \`${guard.functionName}\` | ${guard.refusal} | ${caughtByCell(caughtBy)} |`,
    );
  }
  return lines.join('\n');
}

/** The tests that caught a mutant; a guard every fixture trips over lists its first few. */
function caughtByCell(caughtBy: readonly string[]): string {
  if (caughtBy.length === 0) return '**not caught**';
  const shown = caughtBy.slice(0, MAX_TESTS_SHOWN).map((name) => name.replaceAll('|', '\\|'));
  const rest = caughtBy.length - shown.length;
  return rest > 0 ? `${shown.join('<br>')}<br>… and ${rest} more` : shown.join('<br>');
}

async function writeReport(report: string): Promise<void> {
  const doc = await readFile(REPORT_DOC, 'utf8');
  const begin = doc.indexOf(REPORT_BEGIN);
  const end = doc.indexOf(REPORT_END);
  if (begin < 0 || end < begin)
    throw new Error(`${REPORT_DOC} has no ${REPORT_BEGIN} … ${REPORT_END} section`);
  await writeFile(REPORT_DOC, `${doc.slice(0, begin + REPORT_BEGIN.length)}\n${report}\n${doc.slice(end)}`);
}
