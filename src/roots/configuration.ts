import { type ConfigGroup, type ConfigOf, type GroupValues, readConfig } from '../config/declarations.js';
import type { CONFIG_GROUPS } from '../config/variables.js';

/** Region, credentials and endpoints of the SDK clients the roots build; empty in AWS (the SDK's defaults). */
export interface AwsClientSettings {
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly endpoints?: Partial<Record<'dynamodb' | 'sqs' | 'sfn' | 'eventBridge', string>>;
}

/** The configuration of every group, by key, plus the SDK client settings. */
export type RuntimeConfig = {
  readonly [G in (typeof CONFIG_GROUPS)[number] as G['key']]: GroupValues<G>;
} & { readonly aws: AwsClientSettings };

let hosted: Partial<RuntimeConfig> | undefined;

/**
 * For a host that runs the deployed handler modules in its own process (local mode): the
 * configuration objects their composition roots build from. A group the host does not give is read
 * from the environment as in AWS. Call before the first invocation.
 */
export function hostConfiguration(config: Partial<RuntimeConfig>): void {
  hosted = config;
}

/**
 * The configuration a handler declared (`src/config/functions.ts`): each group as the host gave
 * it, else read and checked from the environment, failing with the names of what is wrong.
 */
export function configurationFor<const Groups extends readonly ConfigGroup[]>(
  groups: Groups,
): ConfigOf<Groups> & { readonly aws: AwsClientSettings } {
  const given = (hosted ?? {}) as Record<string, unknown>;
  const unhosted = groups.filter((declared) => given[declared.key] === undefined);
  const read: Record<string, unknown> = readConfig(unhosted, process.env);
  const values: Record<string, unknown> = { aws: hosted?.aws ?? {} };
  for (const declared of groups) values[declared.key] = given[declared.key] ?? read[declared.key];
  return values as ConfigOf<Groups> & { readonly aws: AwsClientSettings };
}
