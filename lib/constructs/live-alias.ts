import { RemovalPolicy } from 'aws-cdk-lib';
import { Alias } from 'aws-cdk-lib/aws-lambda';
import type { CheckoutFunction } from './checkout-function.js';

/** The alias every caller of a traffic-serving function invokes (API, saga, event source, schedule). */
export const LIVE_ALIAS_NAME = 'live';

const LIVE_ALIAS_ID = 'LiveAlias';

/**
 * The `live` alias of a function, pointing at the version published from its current code and
 * configuration (`currentVersion`): a deploy that changes the function publishes a new version and
 * moves the alias, which is what CodeDeploy shifts traffic on (see `canary-deployments.ts`).
 * Built once per function, like `currentVersion` itself: every later call returns the same alias.
 *
 * Versions are retained when a newer one replaces them (CloudFormation would delete them once the
 * deploy completes), so a rollback by hand can point the alias back at the previous version in
 * seconds (docs/runbooks/deploy-rollback.md); deleting the function deletes them all. Not when the
 * deploy that published one failed and rolled back: that version never served (CloudFormation's
 * `RetainExceptOnCreate`, docs/adr/0021-control-tower-rules-and-retained-resources.md).
 */
export function liveAlias(handler: CheckoutFunction): Alias {
  const existing = handler.node.tryFindChild(LIVE_ALIAS_ID);
  if (existing instanceof Alias) return existing;
  const version = handler.function.currentVersion;
  version.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
  return new Alias(handler, LIVE_ALIAS_ID, {
    aliasName: LIVE_ALIAS_NAME,
    version,
    description: 'The version that serves traffic; CodeDeploy shifts it on every deploy',
  });
}
