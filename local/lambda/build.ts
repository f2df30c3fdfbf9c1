import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { functionBuildOptions } from '../../lib/constructs/function-bundling.js';

/**
 * What local mode runs, built from the repository as `cdk deploy` would build it (docs/adr/0013):
 * the CDK app synthesized (bundling skipped: CDK's own bundling would take most of the start) and
 * every function's entry bundled by esbuild with the settings CDK uses. Both are cached under
 * `.local-build/<fingerprint>/`, the fingerprint being a hash of every file they are built from,
 * so a start after no change reuses them and any change rebuilds both.
 */

const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');
/** Where builds are cached, one folder per source fingerprint. */
export const LOCAL_BUILD_DIR = path.join(PROJECT_ROOT, '.local-build');
/** The files a build depends on: the CDK app, the handlers and everything they import. */
const SOURCE_FOLDERS = ['bin', 'lib', 'lambdas', 'src', 'statemachines', 'migrations', 'local/lambda'];
const SOURCE_FILES = ['cdk.json', 'cdk.context.json', 'package-lock.json', 'tsconfig.json'];

/** The worker bootstrap each container runs; bundled next to the functions. */
export const WORKER_BUNDLE = '_container/worker.mjs';

export interface LocalBuild {
  /** The cloud assembly (`manifest.json`, `<Stack>.template.json`). */
  readonly assemblyDir: string;
  /** Function bundles, `<entry without .ts>.mjs`, and the container bootstrap. */
  readonly bundleDir: string;
}

export interface PrepareBuildOptions {
  /** Told what is being built and how long it took. */
  readonly progress: (step: string) => void;
  /**
   * Use this cloud assembly instead of synthesizing (`LOCAL_CDK_OUT`): a copy of the synthesized
   * app edited on purpose, to see how the local stack behaves with another template.
   */
  readonly assemblyDir?: string;
  /** Stops a synth under way (its child process is killed). */
  readonly signal?: AbortSignal;
}

/** The cached build of the current sources, built first when there is none. */
export async function prepareLocalBuild(options: PrepareBuildOptions): Promise<LocalBuild> {
  const fingerprint = await sourceFingerprint();
  const dir = path.join(LOCAL_BUILD_DIR, fingerprint);
  const assemblyDir = path.join(dir, 'cdk.out');
  const bundleDir = path.join(dir, 'bundles');
  if (existsSync(path.join(dir, 'complete'))) {
    options.progress(`using the cached build of these sources (.local-build/${fingerprint})`);
  } else {
    options.progress('the sources changed: synthesizing the CDK app and bundling the functions (~20 s)');
    const started = performance.now();
    const staging = `${dir}.${process.pid}.tmp`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const stagedAssembly = path.join(staging, 'cdk.out');
    try {
      // Independent of each other: esbuild works on its own threads while the CDK app runs.
      await Promise.all([
        synthesize(stagedAssembly, options.progress, options.signal),
        bundleFunctions(path.join(staging, 'bundles')),
      ]);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    await rm(path.join(staging, 'cdk.out', 'tree.json'), { force: true });
    await mkdir(path.join(staging, 'complete'));
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another start built the same sources at the same time: theirs is as good as ours.
      if (!existsSync(path.join(dir, 'complete'))) throw error;
      await rm(staging, { recursive: true, force: true });
    }
    options.progress(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await pruneOldBuilds(fingerprint);
  }
  return { assemblyDir: options.assemblyDir ?? assemblyDir, bundleDir };
}

/** A hash of every file the build reads (paths and contents), in a stable order. */
async function sourceFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  const files: string[] = [...SOURCE_FILES];
  for (const folder of SOURCE_FOLDERS) files.push(...(await listFiles(folder)));
  for (const file of files.sort()) {
    const absolute = path.join(PROJECT_ROOT, file);
    if (!existsSync(absolute)) continue;
    hash
      .update(file)
      .update('\0')
      .update(await readFile(absolute))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

async function listFiles(folder: string): Promise<string[]> {
  const absolute = path.join(PROJECT_ROOT, folder);
  if (!existsSync(absolute)) return [];
  const entries = await readdir(absolute, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(PROJECT_ROOT, path.join(entry.parentPath, entry.name)));
}

/**
 * Runs the CDK app (bin/app.ts) as the CLI would, with the project's context, construct paths in
 * the template metadata and asset bundling skipped; prints a line every 5 s while it runs.
 */
async function synthesize(
  outDir: string,
  progress: (step: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const contextFile = path.join(PROJECT_ROOT, 'cdk.context.json');
  const context = {
    ...(existsSync(contextFile) ? JSON.parse(readFileSync(contextFile, 'utf8')) : {}),
    ...cdkJson.context,
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:bundling-stacks': [],
  };
  const started = performance.now();
  const ticker = setInterval(
    () => progress(`  still synthesizing (${Math.round((performance.now() - started) / 1000)} s)`),
    5000,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          CDK_OUTDIR: outDir,
          CDK_CONTEXT_JSON: JSON.stringify(context),
          CDK_DEFAULT_REGION: 'us-east-1',
          AWS_REGION: 'us-east-1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(signal ? { signal } : {}),
      });
      let errors = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        errors += chunk.toString();
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`the CDK app failed to synthesize:\n${errors}`)),
      );
    });
  } finally {
    clearInterval(ticker);
  }
  progress(`  synthesized in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The metadata key CDK's `CheckoutFunction` records each function's entry file under. */
export const ENTRY_METADATA = 'checkout:entry';

/**
 * Bundles every handler module under lambdas/ (each function's entry is one), and the container
 * bootstrap, in one esbuild run with the settings CDK bundles with (lib/constructs/function-bundling.ts):
 * ESM, minified, source maps, the AWS SDK bundled with its Lambda-only aliases. The bundles are
 * what CDK would build; the container bootstrap is the emulator's own.
 */
async function bundleFunctions(outDir: string): Promise<void> {
  const entries = (await listFiles('lambdas')).filter((file) => file.endsWith('.ts'));
  const entryPoints = entries.map((entry) => ({
    in: path.join(PROJECT_ROOT, entry),
    out: entry.replace(/\.ts$/, ''),
  }));
  entryPoints.push({
    in: path.join(import.meta.dirname, 'worker.ts'),
    out: WORKER_BUNDLE.replace(/\.mjs$/, ''),
  });
  await build(
    functionBuildOptions({
      entryPoints,
      outdir: outDir,
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
    }),
  );
}

/** Keeps the three newest builds: each is a few megabytes. */
async function pruneOldBuilds(current: string): Promise<void> {
  const builds = await Promise.all(
    (await readdir(LOCAL_BUILD_DIR))
      .filter((name) => /^[0-9a-f]{16}$/.test(name) && name !== current)
      .map(async (name) => ({ name, mtime: (await stat(path.join(LOCAL_BUILD_DIR, name))).mtimeMs })),
  );
  builds.sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(2)) {
    await rm(path.join(LOCAL_BUILD_DIR, old.name), { recursive: true, force: true });
  }
}
