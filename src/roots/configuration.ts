import { type ConfigGroup, type ConfigOf, readConfig } from '../config/declarations.js';

/** Region, credentials and endpoints of the SDK clients the roots build; empty in AWS (the SDK's defaults). */
export interface AwsClientSettings {
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly endpoints?: Partial<Record<'dynamodb' | 'sqs' | 'sfn' | 'eventBridge', string>>;
}

/**
 * The configuration a handler declared (`src/config/functions.ts`), read and checked from the
 * environment, failing with the names of what is wrong. The SDK clients take their region,
 * credentials and endpoints from the environment as well (`AWS_ENDPOINT_URL_*` included), so
 * `aws` is empty here; a test that builds a root itself passes its own.
 */
export function configurationFor<const Groups extends readonly ConfigGroup[]>(
  groups: Groups,
): ConfigOf<Groups> & { readonly aws: AwsClientSettings } {
  return { ...readConfig(groups, process.env), aws: {} } as ConfigOf<Groups> & {
    readonly aws: AwsClientSettings;
  };
}
