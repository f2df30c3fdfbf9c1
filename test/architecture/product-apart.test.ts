import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { importGraph, ROOT, sourcesUnder } from './import-graph.js';

/**
 * The product and its tools, one way (docs/adr/0023): the product (`src/`, `lambdas/`, `lib/`) is
 * what AWS runs; the local emulator, the simulated provider, fault injection (`local/`) and the
 * bench (`bench/`) may use the product's pieces, never the other way round, and the product does
 * not know it can be run on a developer's machine.
 */
const PRODUCT = ['src', 'lambdas', 'lib'] as const;
const TOOLS = ['local/', 'bench/'] as const;

/**
 * Words that name the emulator or a way of running the product only it provides. A configuration
 * value the product reads (`DATABASE_URL`) is a seam it would want anyway; its documentation says
 * what it is, not who sets it.
 */
const NAMES_LOCAL_MODE =
  /\blocal[ -](mode|stack|stacks|runs?|emulator|stand-ins?|sink|http server|api server|containers?|bundles?|build)\b|\blocally\b|npm start|\bLOCAL_[A-Z]|\bdynalite\b|(^|[^\w.-])(local|bench)\/[\w.-]/i;

/**
 * The one path of local/ the product names: the entry the non-production stages deploy the
 * simulated provider from, a test double AWS runs like any other function (docs/adr/0023).
 */
const DEPLOYED_FROM_LOCAL = 'local/payment-provider/function.ts';

/** The imports of `files` (file → project files it imports) that reach into the tools. */
function importsOfTools(graph: ReadonlyMap<string, readonly string[]>): string[] {
  return [...graph].flatMap(([file, targets]) =>
    targets
      .filter((target) => TOOLS.some((tool) => target.startsWith(tool)))
      .map((target) => `${file} -> ${target}`),
  );
}

/** `file:line: text` of each line of `files` that names local mode. */
function mentionsOfLocalMode(files: readonly string[], read: (file: string) => string): string[] {
  return files.flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((line, index) =>
        NAMES_LOCAL_MODE.test(line.replaceAll(DEPLOYED_FROM_LOCAL, ''))
          ? [`${file}:${index + 1}: ${line.trim()}`]
          : [],
      ),
  );
}

const productFiles = () => PRODUCT.flatMap((folder) => sourcesUnder(folder));
const readSource = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('the product knows nothing of its tools', () => {
  test('nothing in src/, lambdas/ or lib/ imports local/ or bench/', () => {
    expect(importsOfTools(importGraph(productFiles()))).toEqual([]);
  });

  test('no file in src/, lambdas/ or lib/ names local mode, the emulator or the bench', () => {
    expect(mentionsOfLocalMode(productFiles(), readSource)).toEqual([]);
  });

  test('both checks find what is planted', () => {
    const planted = new Map([
      ['src/roots/saga.ts', ['src/saga/steps.ts', 'local/faults/record-failures.ts']],
      ['lib/constructs/x.ts', ['bench/lib/api.ts']],
    ]);
    const sources: Record<string, string> = {
      'src/a.ts': '/** Hosted in local mode only. */',
      'src/b.ts': "const url = process.env.LOCAL_DATABASE_URL ?? '';",
      'lib/c.ts': '// see local/lambda/build.ts',
      'lib/d.ts': `entry: '${DEPLOYED_FROM_LOCAL}',`,
    };

    expect(importsOfTools(planted)).toEqual([
      'src/roots/saga.ts -> local/faults/record-failures.ts',
      'lib/constructs/x.ts -> bench/lib/api.ts',
    ]);
    expect(mentionsOfLocalMode(Object.keys(sources), (file) => sources[file] as string)).toEqual([
      'src/a.ts:1: /** Hosted in local mode only. */',
      "src/b.ts:1: const url = process.env.LOCAL_DATABASE_URL ?? '';",
      'lib/c.ts:1: // see local/lambda/build.ts',
    ]);
  });
});
