import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareLocalBuild } from '../../local/lambda/build.js';

/*
 * The local stack runs the synthesized CDK app (docs/adr/0013). A test that needs the app to say
 * something else (a grant removed, a timeout, a setting) runs an edited copy of the assembly,
 * passed to `npm start` as `LOCAL_CDK_OUT`.
 */

export type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
};
type Templates = Record<string, { Resources: Record<string, Resource> }>;

/**
 * Copies the synthesized assembly and applies `edit` to its templates: `resource` finds one by
 * construct path, `resources` lists every resource of both stacks.
 */
export async function editedAssembly(
  edit: (resource: (constructPath: string) => Resource, resources: Resource[]) => void,
): Promise<string> {
  const { assemblyDir } = await prepareLocalBuild({ progress: () => {} });
  const copy = path.join(await mkdtemp(path.join(tmpdir(), 'checkout-cdk-out-')), 'cdk.out');
  await cp(assemblyDir, copy, { recursive: true });
  const templates: Templates = {};
  for (const file of (await readdir(copy)).filter((name) => name.endsWith('.template.json'))) {
    templates[file] = JSON.parse(await readFile(path.join(copy, file), 'utf8'));
  }
  edit(
    (constructPath) => {
      for (const template of Object.values(templates)) {
        for (const resource of Object.values(template.Resources)) {
          if (resource.Metadata?.['aws:cdk:path'] === constructPath) return resource;
        }
      }
      throw new Error(`no resource at ${constructPath}`);
    },
    Object.values(templates).flatMap((template) => Object.values(template.Resources)),
  );
  for (const [file, template] of Object.entries(templates)) {
    await writeFile(path.join(copy, file), JSON.stringify(template));
  }
  return copy;
}

type Statement = { Action: string | string[]; Resource: unknown };

/** Removes the statements granting `action` from a role's default policy. */
export function revoke(policy: Resource, action: string): void {
  const document = policy.Properties.PolicyDocument as { Statement: Statement[] };
  const before = document.Statement.length;
  document.Statement = document.Statement.filter((statement) => ![statement.Action].flat().includes(action));
  if (document.Statement.length === before) throw new Error(`no statement grants ${action}`);
}

/** A function's environment variables (an empty set added when it has none). */
export function environmentOf(fn: Resource): Record<string, unknown> {
  fn.Properties.Environment ??= { Variables: {} };
  const environment = fn.Properties.Environment as { Variables?: Record<string, unknown> };
  environment.Variables ??= {};
  return environment.Variables;
}
