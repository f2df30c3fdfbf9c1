import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A child process that installs the tolerance, then leaves `rejection` unhandled as postgres.js's
 * discarded catalog query does, and reports whether it lived on.
 */
async function childWith(rejection: string): Promise<{ code: number; output: string }> {
  const script = `
    import postgres from 'postgres';
    import { tolerateDiscardedDatabaseRejections } from './local/processes.ts';
    tolerateDiscardedDatabaseRejections((line) => console.log('logged: ' + line));
    void Promise.reject(${rejection});
    setTimeout(() => console.log('still running'), 100);
  `;
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe('the local tools and a database connection lost outside any query', () => {
  test('a connection that closed (postgres.js CONNECTION_CLOSED) is logged and the process goes on', async () => {
    const result = await childWith(
      "Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), { code: 'CONNECTION_CLOSED' })",
    );

    expect(result.code).toBe(0);
    expect(result.output).toContain('logged: a database connection was lost outside any query');
    expect(result.output).toContain('still running');
  });

  test('a backend terminated by the server (SQLSTATE 57P01) is logged and the process goes on', async () => {
    const result = await childWith(
      "Object.assign(Object.create(postgres.PostgresError.prototype), { message: 'terminating connection due to administrator command', code: '57P01' })",
    );

    expect(result.code).toBe(0);
    expect(result.output).toContain('still running');
  });

  test('any other unhandled rejection still ends the process', async () => {
    const result = await childWith("new TypeError('a bug of ours')");

    expect(result.code).not.toBe(0);
    expect(result.output).toContain('a bug of ours');
    expect(result.output).not.toContain('still running');
  });
});
