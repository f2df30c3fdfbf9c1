import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { OWN_CODE, ROOT, sourcesUnder } from './import-graph.js';

/**
 * Every repository path a doc or a code comment cites exists: a reader who follows one finds the
 * file (docs/adr/0023). A path is cited when it starts with one of the repository's top folders
 * (`src/db/orders.ts`, `docs/runbooks/`), or is a relative link of a Markdown page.
 */
const TOP_FOLDERS = [...OWN_CODE, 'docs', 'migrations', 'statemachines', '.ci'];

const CITED = new RegExp(
  `(?<![\\w./-])((?:${TOP_FOLDERS.map((folder) => folder.replace('.', '\\.')).join('|')})/[\\w./*-]*[\\w/*])`,
  'g',
);
const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g;

/** What a citation may name without being a file: results and builds nobody commits, patterns. */
const NOT_A_FILE = /[*<>{}$]|NNNN|^bench\/results\b|\.local-(data|build)\b|^cdk\.out\b/;

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => path.join('docs', file));
  return ['README.md', ...docs];
}

/**
 * The lines of a TypeScript file with only their comments left (`//`, `/* ... *\/` blocks), so a
 * line keeps its number.
 */
function commentsOf(source: string): string[] {
  let inBlock = false;
  return source.split('\n').map((line) => {
    const trimmed = line.trim();
    if (inBlock || trimmed.startsWith('/*')) {
      inBlock = !trimmed.includes('*/');
      return line;
    }
    if (trimmed.startsWith('//')) return line;
    const trailing = line.indexOf(' // ');
    return trailing >= 0 ? line.slice(trailing) : '';
  });
}

/** Whether `cited` names something in the repository (`.js` names its `.ts` source). */
function exists(cited: string): boolean {
  const clean = cited.replace(/[.:]+$/, '');
  if (existsSync(path.join(ROOT, clean))) return true;
  if (clean.endsWith('.js') && existsSync(path.join(ROOT, clean.replace(/\.js$/, '.ts')))) return true;
  // `docs/adr/0013` cites a decision record by its number, `migrations/0012` a migration.
  const numbered = /^(docs\/adr|migrations)\/(\d{4})$/.exec(clean);
  if (!numbered) return false;
  const [, folder = '', number = ''] = numbered;
  return readdirSync(path.join(ROOT, folder)).some(
    (file) => /^\d{4}[-_]/.test(file) && file.startsWith(number),
  );
}

/** `where: path` of every citation in `text` (read from `file`) that names nothing. */
function danglingIn(file: string, lines: readonly string[], markdown: boolean): string[] {
  const dangling: string[] = [];
  lines.forEach((line, index) => {
    const where = `${file}:${index + 1}`;
    for (const [, cited] of line.matchAll(CITED)) {
      if (cited && !NOT_A_FILE.test(cited) && !exists(cited)) dangling.push(`${where}: ${cited}`);
    }
    if (!markdown) return;
    for (const [, target] of line.matchAll(MARKDOWN_LINK)) {
      const link = target?.split('#')[0];
      if (!link || /^[a-z]+:/i.test(link) || NOT_A_FILE.test(link)) continue;
      const resolved = path.normalize(path.join(path.dirname(file), link));
      if (!exists(resolved)) dangling.push(`${where}: ${target}`);
    }
  });
  return dangling;
}

describe('every path the docs and the comments cite exists', () => {
  test('in the README and docs/', () => {
    const dangling = markdownFiles().flatMap((file) =>
      danglingIn(file, readFileSync(path.join(ROOT, file), 'utf8').split('\n'), true),
    );

    expect(dangling).toEqual([]);
  });

  test("in the comments of the project's own code", () => {
    const dangling = OWN_CODE.flatMap((folder) => sourcesUnder(folder)).flatMap((file) =>
      danglingIn(file, commentsOf(readFileSync(path.join(ROOT, file), 'utf8')), false),
    );

    expect(dangling).toEqual([]);
  });

  test('a citation of a file that is not there is found, in a doc and in a comment', () => {
    const doc = ['See `src/saga/faults.ts` and [the record](adr/0099-nothing.md), not `src/saga/steps.ts`.'];
    const missing = ['lib', 'constructs', 'simulated-payment-provider.ts'].join('/');
    const code = commentsOf(`const x = 1; // see ${missing}\n/** src/db/orders.ts */`);

    expect(danglingIn('docs/page.md', doc, true)).toEqual([
      'docs/page.md:1: src/saga/faults.ts',
      'docs/page.md:1: adr/0099-nothing.md',
    ]);
    expect(danglingIn('lambdas/x.ts', code, false)).toEqual([`lambdas/x.ts:1: ${missing}`]);
  });
});

describe('the docs read as a handbook', () => {
  test.each([
    ['README.md', 250],
    ['docs/PERFORMANCE.md', 300],
  ])('%s stays within %i lines: details go to a page of docs/, history to git', (file, limit) => {
    const lines = readFileSync(path.join(ROOT, file), 'utf8').trimEnd().split('\n').length;

    expect(lines).toBeLessThanOrEqual(limit);
  });
});
