import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { kebabCase, PAYMENT_SAGA_DEFINITION } from '../../lib/saga-tasks.js';
import { API_ROUTES } from '../../src/api/routes.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
import {
  followCrossStack,
  referencedLogicalId,
  resourcesOfType,
  type TemplateResource,
  templateJson,
} from './support/template-queries.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

let checkout: SynthesizedCheckout;

beforeAll(() => {
  // What `cdk synth` does, bundles included: the assertions below open the assets. Bundling every
  // function takes ~40 s on its own; give it room when the other test files share the two cores.
  checkout = synthesizeCheckout({ stage: 'dev' });
}, 300_000);

/** The directory (or file) of an asset in the cloud assembly, from a resource's `aws:asset:path`. */
function assetPath(resource: TemplateResource): string {
  const assetDir = resource.Metadata?.['aws:asset:path'];
  if (typeof assetDir !== 'string') throw new Error('the resource has no asset');
  return path.join(checkout.assembly.directory, assetDir);
}

/** The sources a function's bundle was built from, relative to the repository root. */
function bundleSources(fn: TemplateResource): string[] {
  const dir = assetPath(fn);
  const map = JSON.parse(readFileSync(path.join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
  return map.sources.map((source) => path.relative(ROOT, path.resolve(dir, source)));
}

function lambdaResource(logicalId: string): TemplateResource {
  const found = resourcesOfType(checkout.statelessTemplate, 'AWS::Lambda::Function').find(
    (fn) => fn.logicalId === logicalId,
  );
  if (!found) throw new Error(`no function ${logicalId}`);
  return found;
}

describe('payment saga definition', () => {
  function stateMachine(): TemplateResource {
    return resourcesOfType(
      checkout.statelessTemplate,
      'AWS::StepFunctions::StateMachine',
    )[0] as TemplateResource;
  }

  /** The definition file the template points at (`DefinitionS3Location`), read from the assembly. */
  function deployedDefinition(): string {
    const { Key } = stateMachine().Properties.DefinitionS3Location as { Key: string };
    const manifest = JSON.parse(
      readFileSync(
        path.join(checkout.assembly.directory, `${checkout.stateless.artifactId}.assets.json`),
        'utf8',
      ),
    ) as {
      files: Record<
        string,
        { source: { path: string }; destinations: Record<string, { objectKey: string }> }
      >;
    };
    const asset = Object.values(manifest.files).find((file) =>
      Object.values(file.destinations).some((destination) => destination.objectKey === Key),
    );
    if (!asset) throw new Error(`no asset uploads ${Key}`);
    return readFileSync(path.join(checkout.assembly.directory, asset.source.path), 'utf8');
  }

  function substitutions(): Record<string, unknown> {
    return stateMachine().Properties.DefinitionSubstitutions as Record<string, unknown>;
  }

  test('the deployed definition is the ASL file, byte for byte', () => {
    expect(deployedDefinition()).toBe(readFileSync(path.join(ROOT, PAYMENT_SAGA_DEFINITION), 'utf8'));
  });

  test('every placeholder of the definition has a substitution, and no substitution is unused', () => {
    const placeholders = new Set([...deployedDefinition().matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]));

    expect([...placeholders].sort()).toEqual(Object.keys(substitutions()).sort());
  });

  test('resolved, every Task invokes the live alias of the function built from its own handler file', () => {
    // Resolve each substitution to the logical id it references, as CloudFormation would to an ARN.
    const resolved = deployedDefinition().replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const value = followCrossStack(substitutions()[name], checkout.statefulTemplate);
      return `resolved:${referencedLogicalId(value)}`;
    });
    const states = (JSON.parse(resolved) as { States: Record<string, { Type: string; Resource?: string }> })
      .States;
    const lambdaTasks = Object.entries(states).filter(
      ([, state]) => state.Type === 'Task' && !state.Resource?.startsWith('arn:aws:states:::'),
    );

    expect(lambdaTasks.length).toBe(9);
    for (const [stateName, state] of lambdaTasks) {
      const aliasId = (state.Resource ?? '').replace('resolved:', '');
      const alias = resourcesOfType(checkout.statelessTemplate, 'AWS::Lambda::Alias').find(
        (candidate) => candidate.logicalId === aliasId,
      );
      expect(alias?.Properties.Name, stateName).toBe('live');
      const fn = lambdaResource(referencedLogicalId(alias?.Properties.FunctionName) ?? '');
      const handlers = bundleSources(fn).filter((source) => source.startsWith('lambdas/'));

      expect(handlers, stateName).toEqual([`lambdas/saga/${kebabCase(stateName)}.ts`]);
      expect(fn.Properties.Handler, stateName).toBe('index.handler');
    }
  });

  test('QueueCompensation sends to the compensation queue of the stateful stack', () => {
    const queueUrl = followCrossStack(substitutions().CompensationQueueUrl, checkout.statefulTemplate);
    const queue = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.queue.node.defaultChild as never,
    );

    expect(queueUrl).toEqual({ Ref: queue });
    const states = (
      JSON.parse(deployedDefinition()) as {
        States: Record<string, { Resource?: string; Parameters?: { QueueUrl?: string } }>;
      }
    ).States;
    expect(states.QueueCompensation?.Resource).toBe('arn:aws:states:::sqs:sendMessage');
    expect(states.QueueCompensation?.Parameters?.QueueUrl).toMatch(/^\$\{CompensationQueueUrl\}$/);
  });
});

describe('function bundles', () => {
  test('each API route runs a bundle of its own handler module and export', () => {
    for (const route of API_ROUTES) {
      const fn = checkout.stateless.apiHandlers.functions.get(route.operationId);
      const resource = lambdaResource(
        checkout.stateless.getLogicalId(fn?.function.node.defaultChild as never),
      );
      const handlers = bundleSources(resource).filter((source) => source.startsWith('lambdas/'));

      expect(handlers, route.operationId).toEqual([route.entry]);
      expect(resource.Properties.Handler, route.operationId).toBe(`index.${route.handler}`);
    }
  });

  test('bundles are minified ESM with a source map, the AWS SDK inside', () => {
    const fn = checkout.stateless.apiHandlers.functions.get('placeOrder');
    const dir = assetPath(
      lambdaResource(checkout.stateless.getLogicalId(fn?.function.node.defaultChild as never)),
    );
    const code = readFileSync(path.join(dir, 'index.mjs'), 'utf8');
    const sources = bundleSources(
      lambdaResource(checkout.stateless.getLogicalId(fn?.function.node.defaultChild as never)),
    );

    expect(code.startsWith("import { createRequire } from 'module';")).toBe(true);
    expect(code).toMatch(/\bexport\s*\{/);
    // Minified: whole modules on a line, not one statement per line.
    expect(code.length / code.split('\n').length).toBeGreaterThan(1_000);
    expect(code).toContain('//# sourceMappingURL=index.mjs.map');
    expect(sources.some((source) => source.includes('node_modules/@aws-sdk/client-sfn/'))).toBe(true);
  });

  test("every function's bundle signs with the environment's credentials: no default chain, no STS or SSO client, no event streams", () => {
    // What the SDK clients import and Lambda never runs (docs/adr/0015): the default credential
    // chain with its providers and their STS/SSO/sign-in clients, and event stream serialisation.
    const dropped =
      /^node_modules\/(@aws-sdk\/(credential-provider-(?!env\/)[\w-]+|nested-clients|token-providers)|@smithy\/credential-provider-imds|@smithy\/core\/dist-es\/submodules\/event-streams)\//;
    const functions = [checkout.statefulTemplate, checkout.statelessTemplate].flatMap((template) =>
      resourcesOfType(template, 'AWS::Lambda::Function').filter((fn) => fn.Metadata?.['checkout:entry']),
    );

    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const sources = bundleSources(fn);
      const entry = String(fn.Metadata?.['checkout:entry']);

      expect(
        sources.filter((source) => dropped.test(source)),
        entry,
      ).toEqual([]);
      if (sources.some((source) => source.startsWith('node_modules/@aws-sdk/core/'))) {
        expect(sources, entry).toContain('src/runtime/lambda-credentials.ts');
      }
    }
  });

  test('the migration function carries the migrations folder, file for file', () => {
    const migrate = resourcesOfType(checkout.statefulTemplate, 'AWS::Lambda::Function').find(
      (fn) =>
        fn.logicalId ===
        checkout.stateful.getLogicalId(
          checkout.stateful.migrations.handler.function.node.defaultChild as never,
        ),
    ) as TemplateResource;
    const bundled = path.join(assetPath(migrate), 'migrations');
    const repository = path.join(ROOT, 'migrations');
    const sqlFiles = (dir: string) =>
      readdirSync(dir)
        .filter((file) => file.endsWith('.sql'))
        .sort();

    expect(sqlFiles(bundled)).toEqual(sqlFiles(repository));
    for (const file of sqlFiles(repository)) {
      expect(readFileSync(path.join(bundled, file), 'utf8'), file).toBe(
        readFileSync(path.join(repository, file), 'utf8'),
      );
    }
  });

  test('the templates name their assets; nothing else in the assembly needs AWS to resolve', () => {
    const missing = (checkout.assembly.manifest as { missing?: unknown[] }).missing ?? [];
    expect(missing).toEqual([]);
    expect(Object.keys(templateJson(checkout.statelessTemplate).Parameters ?? {})).toEqual([
      'BootstrapVersion',
    ]);
  });
});
