import type { ConfigOf } from '../config/declarations.js';
import { OUTBOX_RELAY_FUNCTION } from '../config/functions.js';
import { EventBridgePublisher } from '../ops/event-publishers.js';
import { perContainer } from '../runtime/per-container.js';
import { eventBridgeClient } from './aws-clients.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { containerPool } from './database.js';

/** The composition root of the outbox relay (a scheduled job). */

/** The outbox relay's pool, publisher and settings from a configuration object. */
export function createOutboxRelayRoot(
  config: ConfigOf<typeof OUTBOX_RELAY_FUNCTION> & { readonly aws: AwsClientSettings },
) {
  const { eventBusName, ...settings } = config.outboxRelay;
  return {
    sql: containerPool(config.database),
    publisher: new EventBridgePublisher({ client: eventBridgeClient(config.aws), eventBusName }),
    settings,
  };
}

export const containerOutboxRelay = /* @__PURE__ */ perContainer(() =>
  createOutboxRelayRoot(configurationFor(OUTBOX_RELAY_FUNCTION)),
);
