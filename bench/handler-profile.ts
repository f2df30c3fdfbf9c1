/**
 * `npx tsx bench/handler-profile.ts <dir>`: where the functions' containers spent their CPU, from
 * the V8 CPU profiles they write when the local stack runs with
 * `LOCAL_LAMBDA_NODE_FLAGS="--cpu-prof --cpu-prof-dir=<dir>"` (docs/capacity.md). Each sample is
 * charged to the code it was in, mapped through the bundle's source map to its origin: an npm
 * package, a folder of this project, Node's own modules, or V8 (garbage collection, compiling).
 * Idle samples (waiting on the network or the next invocation) are left out. Prints, per function,
 * the busy share of each origin, largest first.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx bench/handler-profile.ts <folder of .cpuprofile files>');
  process.exit(2);
}

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    try {
      const file = url.startsWith('file:') ? fileURLToPath(url) : url;
      maps.set(url, new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))));
    } catch {
      maps.set(url, undefined);
    }
  }
  return maps.get(url);
}

/** Where a frame's code comes from. */
function originOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return `V8 ${frame.functionName || '(anonymous)'}`;
  if (frame.url.startsWith('node:internal/deps/undici')) return 'fetch (undici)';
  if (/^node:internal\/(modules|bootstrap)/.test(frame.url)) return 'module loading (INIT)';
  if (frame.url.startsWith('node:'))
    return `node ${frame.url.replace(/^node:(internal\/)?/, '').split('/')[0]}`;
  const map = sourceMapOf(frame.url);
  const source = map?.findEntry(frame.lineNumber, frame.columnNumber) as
    | { originalSource?: string }
    | undefined;
  const original = source?.originalSource ?? frame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(original)?.[1];
  if (pkg) return /^@(smithy|aws-sdk|aws-crypto)\//.test(pkg) ? 'AWS SDK (@smithy, @aws-sdk)' : pkg;
  const project = /\/(src|lambdas|local|lib)\/([^/]+)/.exec(original);
  return project ? `${project[1]}/${project[2]}` : path.basename(original);
}

/** The function a container ran, from the bundle its frames come from. */
function functionOf(profile: Profile): string {
  for (const node of profile.nodes) {
    const match = /bundles\/(lambdas\/[^?#]+)\.mjs/.exec(node.callFrame.url);
    if (match) return match[1] as string;
  }
  return 'unknown';
}

const byFunction = new Map<string, Map<string, number>>();
for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const origins = byFunction.get(functionOf(profile)) ?? new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    const origin = originOf(frame);
    origins.set(origin, (origins.get(origin) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  byFunction.set(functionOf(profile), origins);
}

for (const [fn, origins] of [...byFunction].sort()) {
  const busy = [...origins.values()].reduce((sum, us) => sum + us, 0);
  console.log(`\n${fn}: ${(busy / 1000).toFixed(0)} ms busy`);
  for (const [origin, us] of [...origins]
    .sort(([, a], [, b]) => b - a)
    .slice(0, Number(process.argv[3] ?? 12))) {
    console.log(`  ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${origin}`);
  }
}
