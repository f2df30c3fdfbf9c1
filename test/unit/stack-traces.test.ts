import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { functionBuildOptions } from '../../lib/constructs/function-bundling.js';

/**
 * src/runtime/stack-traces.ts in a function bundled as CDK bundles it (minified, its source map
 * beside it), loaded by a fresh Node with no flags, as Lambda now starts it.
 */

const run = promisify(execFile);
const FIXTURE = path.resolve(import.meta.dirname, '../support/stack-trace-fixture.ts');
const CALLER = path.resolve(import.meta.dirname, '../support/stack-trace-caller.ts');

describe('stack traces of a bundled function', () => {
  let dir: string;
  let bundle: string;
  let throwLine: number;
  let callLine: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stack-traces-'));
    await build(
      functionBuildOptions({
        entryPoints: [
          { in: FIXTURE, out: 'index' },
          { in: CALLER, out: 'caller' },
        ],
        outdir: dir,
        outExtension: { '.js': '.mjs' },
        logLevel: 'error',
      }),
    );
    bundle = path.join(dir, 'index.mjs');
    throwLine = await lineOf(FIXTURE, 'throw new');
    callLine = await lineOf(CALLER, 'return fail()');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The 1-based number of the first line of `file` that contains `text`. */
  async function lineOf(file: string, text: string): Promise<number> {
    return (await readFile(file, 'utf8')).split('\n').findIndex((line) => line.includes(text)) + 1;
  }

  /** The stack of the fixture's error, in a new process; `afterImport` runs between import and throw. */
  async function stackOf(afterImport = ''): Promise<string> {
    const script = `
      const { fail } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
      const { callThrough } = await import(${JSON.stringify(pathToFileURL(path.join(dir, 'caller.mjs')).href)});
      ${afterImport}
      try { callThrough(() => fail('on purpose')); } catch (error) { process.stdout.write(error.stack); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', POWERTOOLS_LOG_LEVEL: 'ERROR' },
    });
    return stdout;
  }

  test('point at the TypeScript sources, as --enable-source-maps made them', async () => {
    const stack = await stackOf();

    expect(stack.split('\n')[0]).toBe('Error: failed: on purpose');
    expect(stack.split('\n')[1]).toMatch(
      new RegExp(`^ {4}at \\S+ \\(${pathToFileURL(FIXTURE).href}:${throwLine}:\\d+\\)$`),
    );
    // Another bundle loaded in the process, with its map beside it, is mapped too.
    expect(stack).toContain(`${pathToFileURL(CALLER).href}:${callLine}:`);
    // The script's own frame has no map: V8's text, unchanged.
    expect(stack).toMatch(/\n {4}at file:\/\/\/.*\[eval1\]:\d+:\d+$/);
  });

  test('the map is read when a stack is first formatted, not when the bundle loads', async () => {
    const map = `${bundle}.map`;
    let stack: string;
    try {
      stack = await stackOf(
        `(await import('node:fs')).renameSync(${JSON.stringify(map)}, ${JSON.stringify(`${map}.gone`)});`,
      );
    } finally {
      await rename(`${map}.gone`, map);
    }

    // Gone before the first stack: the frame stays in the minified bundle, and nothing throws.
    expect(stack.split('\n')[1]).toMatch(new RegExp(`\\(${pathToFileURL(bundle).href}:\\d+:\\d+\\)$`));
    expect(stack).not.toContain(FIXTURE);
  });

  test('a map that cannot be read leaves the frames as V8 wrote them', async () => {
    const map = `${bundle}.map`;
    const original = await readFile(map, 'utf8');
    await writeFile(map, '{ not json');
    try {
      const stack = await stackOf();

      expect(stack.split('\n')[0]).toBe('Error: failed: on purpose');
      expect(stack.split('\n')[1]).toMatch(new RegExp(`\\(${pathToFileURL(bundle).href}:\\d+:\\d+\\)$`));
    } finally {
      await writeFile(map, original);
    }
  });
});
