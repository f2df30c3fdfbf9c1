import { Signer } from '@aws-sdk/rds-signer';
import type { Sql } from 'postgres';
import { type GroupValues, required } from '../config/declarations.js';
import { database } from '../config/variables.js';
import { createSql } from '../db/client.js';
import { verifiedTls } from '../db/tls.js';
import { perContainer } from '../runtime/per-container.js';

/**
 * A database pool from its configuration. In AWS: RDS Proxy with IAM authentication over TLS, a
 * fresh token signed for each new connection, the proxy's certificate verified (chain and host
 * name) before the token is sent. Given a `url` (outside AWS): that URL as is.
 */
export function createDatabasePool(config: GroupValues<typeof database>): Sql {
  const pool = { max: config.poolMax, connectTimeoutSeconds: config.connectTimeoutSeconds };
  if (config.url) return createSql(config.url, pool);
  const { variables } = database;
  const hostname = required(variables.proxyEndpoint, config.proxyEndpoint);
  const username = required(variables.user, config.user);
  const name = required(variables.name, config.name);
  const region = required(variables.region, config.region);
  const signer = new Signer({ hostname, port: config.port, username, region });
  return createSql(`postgres://${encodeURIComponent(username)}@${hostname}:${config.port}/${name}`, {
    ...pool,
    tls: verifiedTls(hostname),
    password: () => signer.getAuthToken(),
  });
}

/** The container's one pool, built from the configuration of its first call. */
export const containerPool = /* @__PURE__ */ perContainer(createDatabasePool);

/** Ends the container's pool (a host that runs handlers in its own process, when it stops); the next use builds a new one. */
export async function endContainerPool(): Promise<void> {
  const pool = containerPool.built();
  containerPool.forget();
  await pool?.end({ timeout: 5 });
}
