import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SKIPPED = new Set(['node_modules', '.git', 'cdk.out', '.local-data', 'results']);
const TEXT = /\.(ts|js|mjs|json|sql|md|yaml|yml|sh)$|^run$/;

function repositoryFiles(folder = ROOT): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const file = path.join(folder, entry.name);
    if (entry.isDirectory()) return repositoryFiles(file);
    return TEXT.test(entry.name) ? [file] : [];
  });
}

// Built from parts, so this file does not mention what it forbids.
const OUTSIDE_SPEC = new RegExp(`${'DES'}IGN(\\.md| §)`);

describe('the design record lives in the repository', () => {
  test('no file cites the product specification kept outside the repository', () => {
    const citing = repositoryFiles().filter((file) => OUTSIDE_SPEC.test(readFileSync(file, 'utf8')));

    expect(citing.map((file) => path.relative(ROOT, file))).toEqual([]);
  });

  test('every decision record is listed in the index and every link of the design docs resolves', () => {
    const adrFolder = path.join(ROOT, 'docs/adr');
    const records = readdirSync(adrFolder).filter((file) => /^\d{4}-.+\.md$/.test(file));
    const index = readFileSync(path.join(adrFolder, 'README.md'), 'utf8');
    const docs = ['docs/architecture.md', 'docs/adr/README.md'].map((file) => path.join(ROOT, file));

    const unlisted = records.filter((record) => !index.includes(`(${record})`));
    const broken = docs.flatMap((doc) =>
      [...readFileSync(doc, 'utf8').matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)]
        .map((link) => link[1] as string)
        .filter((target) => !existsSync(path.resolve(path.dirname(doc), target))),
    );

    expect(records.length).toBeGreaterThan(0);
    expect(unlisted).toEqual([]);
    expect(broken).toEqual([]);
  });
});
