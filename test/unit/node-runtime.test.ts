import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { FUNCTION_RUNTIME } from '../../lib/constructs/checkout-function.js';
import { FUNCTION_BUNDLING } from '../../lib/constructs/function-bundling.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/** The Node major the project pins as a dev dependency (docs/adr/0017). */
const pinnedMajor = Number(manifest.devDependencies.node?.split('.')[0]);

test('npm scripts run on the pinned Node, not on the machine Node', () => {
  expect(pinnedMajor).toBeGreaterThanOrEqual(24);
  expect(Number(process.versions.node.split('.')[0])).toBe(pinnedMajor);
});

test('the pinned Node, the Lambda runtime and the bundling target are one major', () => {
  expect(FUNCTION_RUNTIME.name).toBe(`nodejs${pinnedMajor}.x`);
  expect(FUNCTION_BUNDLING.target).toBe(`node${pinnedMajor}`);
});
