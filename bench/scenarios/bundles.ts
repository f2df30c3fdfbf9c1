import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { functionBuildOptions } from '../../lib/constructs/function-bundling.js';
import { API_ROUTES } from '../../src/api/routes.js';
import type { Progress } from '../lib/progress.js';
import { median, round } from '../lib/stats.js';

const run = promisify(execFile);

/**
 * What the CDK app gives the functions (names from src/runtime and lambdas/), with placeholder
 * values: some handlers check their configuration at load, as they should, and nothing connects
 * anywhere at import.
 */
const LAMBDA_ENVIRONMENT = {
  // As in Lambda, with tracing on (src/runtime/tracing.ts sets up its tracer only then).
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  DB_PROXY_ENDPOINT: 'proxy.bench.invalid',
  DB_NAME: 'checkout',
  DB_USER: 'checkout',
  EVENT_BUS_NAME: 'checkout-events',
  IDEMPOTENCY_TABLE_NAME: 'checkout-idempotency',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:payment-saga',
  COMPENSATION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/checkout-compensations',
  PAYMENT_PROVIDER_URL: 'https://provider.bench.invalid',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
};
const ROOT = path.resolve(import.meta.dirname, '../..');

/** The size budget of one Lambda bundle, minified with the SDK external. */
export const BUNDLE_LIMIT_BYTES = 150 * 1024;
/** The size budget of one Lambda bundle as deployed (SDK inside). */
export const DEPLOYED_LIMIT_BYTES = 450 * 1024;
/** The budget of a handler's cold import. */
export const COLD_IMPORT_LIMIT_MS = 50;

export interface BundleResult {
  readonly entry: string;
  /** Minified ESM with `@aws-sdk/*` external, the Lambda runtime's own SDK v3. */
  readonly bytes: number;
  readonly overLimit: boolean;
  /** The same entry bundled as CDK deploys it (lib/constructs/function-bundling.ts, SDK inside). */
  readonly deployedBytes: number;
  /** Median of `runs` fresh `node` processes timing `await import(bundle)` (process start excluded). */
  readonly coldImportMs: number;
  readonly coldImportRunsMs: number[];
  /**
   * The same for the deployed bundle, whose SDK clients are inside it: what a Lambda INIT loads.
   * `coldImportMs` loads the SDK from node_modules instead, file by file.
   */
  readonly deployedColdImportMs: number;
  /** The largest contributors to `bytes`: npm packages by name, the project's own code by folder. */
  readonly largestInputs: { readonly name: string; readonly bytes: number }[];
}

export interface BundlesResult {
  readonly limitBytes: number;
  readonly deployedLimitBytes: number;
  readonly coldImportLimitMs: number;
  readonly importRuns: number;
  /**
   * The reference of the same rounds: a module importing only the Node built-ins the deployed
   * bundles import, timed like a handler (median). What the machine's speed makes of the part of
   * an import no bundle can shed.
   */
  readonly referenceImportMs: number;
  readonly referenceModules: string[];
  readonly bundles: BundleResult[];
  readonly overLimit: string[];
  readonly deployedOverLimit: string[];
}

/**
 * Every Lambda entry of the app: the API route table's entries and the handler modules under
 * lambdas/saga, lambdas/workers and lambdas/ops (helpers there that export no handler are skipped).
 */
export async function lambdaEntries(): Promise<string[]> {
  const entries = new Set(API_ROUTES.map((route) => route.entry));
  for (const folder of ['lambdas/saga', 'lambdas/workers', 'lambdas/ops']) {
    const files = await readdir(path.join(ROOT, folder)).catch(() => [] as string[]);
    for (const file of files.filter((name) => name.endsWith('.ts')).sort()) {
      const source = await readFile(path.join(ROOT, folder, file), 'utf8');
      if (/export\s+(const|async\s+function|function)\s+handler\b/.test(source))
        entries.add(`${folder}/${file}`);
    }
  }
  return [...entries];
}

/**
 * Scenario 5: bundles each entry with the functions' esbuild options
 * (lib/constructs/function-bundling.ts: ESM, minified, target node24), once with `@aws-sdk/*`
 * external and once as deployed, and measures the minified sizes and the cold import times in
 * fresh processes, every handler once per round. The processes get no Node flags: the functions
 * set no `NODE_OPTIONS` (docs/adr/0028). The bundles go under `outDir` inside the repository so
 * that the external SDK resolves from node_modules, as it does from the runtime's own copy in
 * Lambda.
 */
export async function measureBundles(options: {
  readonly outDir: string;
  readonly importRuns: number;
  readonly progress: Progress;
}): Promise<BundlesResult> {
  const { outDir, importRuns, progress } = options;
  const entries = await lambdaEntries();
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });

  progress.step(`  bundling ${entries.length} Lambda entries with esbuild`);
  const external = path.join(outDir, 'sdk-external');
  const deployed = path.join(outDir, 'sdk-bundled');
  const metafile = await bundle(entries, external, { sdkExternal: true });
  const deployedMetafile = await bundle(entries, deployed, { sdkExternal: false });
  const referenceModules = builtinImports(deployedMetafile);
  const reference = path.join(outDir, 'reference.mjs');
  await writeFile(reference, referenceModules.map((name) => `import ${JSON.stringify(name)};\n`).join(''));

  // Round robin: each round imports every handler once, both builds in turn, so a stretch of a
  // slower machine falls on all handlers alike instead of on the one being measured then.
  const runs = new Map(
    entries.map((entry) => [entry, { external: [] as number[], deployed: [] as number[] }]),
  );
  const referenceRuns: number[] = [];
  for (let pass = 1; pass <= importRuns; pass++) {
    referenceRuns.push(await coldImport(reference));
    for (const [entry, times] of runs) {
      times.external.push(await coldImport(outputFile(external, entry)));
      times.deployed.push(await coldImport(outputFile(deployed, entry)));
    }
    progress.tick('cold import rounds', pass, importRuns);
  }

  const bundles: BundleResult[] = [];
  for (const [entry, times] of runs) {
    const file = outputFile(external, entry);
    const bytes = (await stat(file)).size;
    bundles.push({
      entry,
      bytes,
      overLimit: bytes > BUNDLE_LIMIT_BYTES,
      deployedBytes: (await stat(outputFile(deployed, entry))).size,
      coldImportMs: round(median(times.external)),
      coldImportRunsMs: times.external.map((ms) => round(ms)),
      deployedColdImportMs: round(median(times.deployed)),
      largestInputs: largestInputs(metafile, file),
    });
  }
  return {
    limitBytes: BUNDLE_LIMIT_BYTES,
    deployedLimitBytes: DEPLOYED_LIMIT_BYTES,
    coldImportLimitMs: COLD_IMPORT_LIMIT_MS,
    importRuns,
    referenceImportMs: round(median(referenceRuns)),
    referenceModules,
    bundles,
    overLimit: bundles.filter((b) => b.overLimit).map((b) => b.entry),
    deployedOverLimit: bundles.filter((b) => b.deployedBytes > DEPLOYED_LIMIT_BYTES).map((b) => b.entry),
  };
}

async function bundle(
  entries: string[],
  outDir: string,
  options: { sdkExternal: boolean },
): Promise<Metafile> {
  const result = await build(
    functionBuildOptions({
      entryPoints: entries.map((entry) => ({ in: path.join(ROOT, entry), out: entry.replace(/\.ts$/, '') })),
      outdir: outDir,
      outExtension: { '.js': '.mjs' },
      external: options.sdkExternal ? ['@aws-sdk/*'] : [],
      logLevel: 'error',
      metafile: true,
    }),
  );
  return result.metafile;
}

/** The Node built-ins any of the outputs imports (esbuild leaves them external), sorted. */
function builtinImports(metafile: Metafile): string[] {
  const modules = new Set<string>();
  for (const output of Object.values(metafile.outputs))
    for (const { path: name, external } of output.imports) if (external && isBuiltin(name)) modules.add(name);
  return [...modules].sort();
}

/** Bytes in one output by origin: `zod`, `@aws-lambda-powertools/logger`, `src/api`, ... */
function largestInputs(metafile: Metafile, file: string): { name: string; bytes: number }[] {
  const output = Object.entries(metafile.outputs).find(([name]) => path.resolve(ROOT, name) === file)?.[1];
  const byOrigin = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const origin =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + bytesInOutput);
  }
  return [...byOrigin.entries()]
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([name, bytes]) => ({ name, bytes }));
}

function outputFile(outDir: string, entry: string): string {
  return path.join(outDir, entry.replace(/\.ts$/, '.mjs'));
}

/**
 * A fresh `node` times the import of the bundle itself, so process start-up is not counted;
 * what is counted is what a Lambda cold start adds: parsing, linking and module-scope code.
 * Dependencies resolve as in Lambda (the handlers read their configuration lazily).
 */
async function coldImport(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENVIRONMENT },
      timeout: 30_000,
    }));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    const reason = stderr.split('\n').find((line) => /^\w*(Error|Exception)\b/.test(line)) ?? String(error);
    throw new Error(`cold import of ${path.relative(ROOT, file)} failed: ${reason.slice(0, 300)}`);
  }
  const ms = Number(stdout.trim());
  if (!Number.isFinite(ms)) throw new Error(`cold import of ${file} printed no time: ${stdout}`);
  return ms;
}
