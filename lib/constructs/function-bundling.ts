import path from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * How every function's bundle is built, in one place for every build that must agree with CDK's
 * for AWS (`CheckoutFunction`): the tools that run or measure the functions build with it too. No
 * CDK import here, so they load this module without the CDK library.
 */
export const FUNCTION_BUNDLING = {
  /** The Node version of `FUNCTION_RUNTIME` (nodejs24.x). */
  target: 'node24',
  format: 'esm',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  /** ESM output still meets CommonJS dependencies that call require() on Node built-ins. */
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  /**
   * SDK modules that every client imports and no function runs in Lambda, resolved to small
   * modules of ours instead (docs/adr/0015). Paths are relative to the repository root, which is
   * where each build runs esbuild.
   */
  alias: {
    // The default credential chain and the STS/SSO clients of its providers: in Lambda the
    // credentials are in the environment.
    '@aws-sdk/credential-provider-node': './src/runtime/lambda-credentials.ts',
    // Event stream serialisation: no operation of the functions' clients streams events.
    '@smithy/core/event-streams': './src/runtime/no-event-streams.ts',
  },
} as const;

/** The repository root, where every build runs esbuild (the aliases are relative to it). */
const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * {@link FUNCTION_BUNDLING} as options of esbuild's API, for builds that call esbuild themselves;
 * `overrides` for what such a build does differently (its entries, output, another target).
 */
export function functionBuildOptions<const Overrides extends BuildOptions>(
  overrides: Overrides,
): BuildOptions & Overrides {
  const { banner, ...options } = FUNCTION_BUNDLING;
  return {
    bundle: true,
    platform: 'node',
    absWorkingDir: PROJECT_ROOT,
    ...options,
    mainFields: [...options.mainFields],
    banner: { js: banner },
    alias: { ...options.alias },
    ...overrides,
  };
}
