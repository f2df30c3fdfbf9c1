import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { CONFIG_GROUPS } from '../../src/config/variables.js';
import { importCycles, importGraph, OWN_CODE } from './import-graph.js';

/**
 * The layering rules, read from the sources (docs/architecture.md, "Where things are"):
 * configuration is named once, nothing configures code by writing the environment, and the
 * database driver stays behind the data layer.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');

function sourcesUnder(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(folder, file));
}

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

const COMMENT = /^\s*(\/\/|\/\*|\*)/;

/** `file:line: text` of each code line (comments aside) of `files` that matches. */
function offending(files: readonly string[], pattern: RegExp): string[] {
  return files.flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((line, index) =>
        !COMMENT.test(line) && pattern.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
      ),
  );
}

const DEPLOYED = [...sourcesUnder('src'), ...sourcesUnder('lambdas')];
const NOT_TESTS = [
  ...DEPLOYED,
  ...sourcesUnder('lib'),
  ...sourcesUnder('local'),
  ...sourcesUnder('bench'),
  ...sourcesUnder('bin'),
];

describe('architecture', () => {
  test('lib/ names no environment variable: constructs set them from src/config declarations', () => {
    const names = CONFIG_GROUPS.flatMap((group) =>
      Object.values(group.variables).map((variable) => variable.name),
    );
    const literal = new RegExp(`['"\`](${[...new Set(names)].join('|')})['"\`]`);

    expect(offending(sourcesUnder('lib'), literal)).toEqual([]);
    expect(offending(sourcesUnder('lib'), /addEnvironment\(\s*['"`]/)).toEqual([]);
  });

  test('nothing outside test/ writes process.env', () => {
    const write =
      /process\.env(\.\w+|\[[^\]]+\])?\s*(=(?!=)|\+=)|Object\.assign\(\s*process\.env|delete\s+process\.env/;

    expect(offending(NOT_TESTS, write)).toEqual([]);
  });

  test('postgres is imported only by the data layer (src/db/) and the composition roots (src/roots/)', () => {
    const importsPostgres = /from\s+['"]postgres['"]|import\(\s*['"]postgres['"]\s*\)/;
    const outside = DEPLOYED.filter((file) => !file.startsWith('src/db/') && !file.startsWith('src/roots/'));

    expect(offending(outside, importsPostgres)).toEqual([]);
  });

  test('src/runtime/ is the bottom layer: it imports nothing of the domain, saga, api, db or roots', () => {
    const upward = /(from\s+|import\s*\(?\s*)['"]\.\.\/(saga|api|db|roots|checkout|ops|payments|domain)\//;

    expect(offending(sourcesUnder('src/runtime'), upward)).toEqual([]);
  });

  test("the import graph of the project's own code has no cycle", () => {
    const graph = importGraph(OWN_CODE.flatMap(sourcesUnder));

    expect(importCycles(graph)).toEqual([]);
  });

  test('the cycle check finds a cycle it is shown', () => {
    const planted = new Map([
      ['lib/a.ts', ['lib/b.ts']],
      ['lib/b.ts', ['lib/c.ts']],
      ['lib/c.ts', ['lib/a.ts']],
      ['lib/d.ts', ['lib/a.ts']],
    ]);

    expect(importCycles(planted)).toEqual([['lib/a.ts', 'lib/b.ts', 'lib/c.ts']]);
  });
});
