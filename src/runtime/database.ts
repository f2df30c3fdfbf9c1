import { Signer } from '@aws-sdk/rds-signer';
import type { Sql } from 'postgres';
import { createSql } from '../db/client.js';
import { verifiedTls } from '../db/tls.js';
import { integerEnv, requiredEnv } from './config.js';

let pool: Sql | undefined;

/**
 * The process's one database pool, created on first use.
 *
 * In AWS the function reaches RDS Proxy with IAM authentication over TLS: `DB_PROXY_ENDPOINT`,
 * `DB_NAME`, `DB_USER` (and optionally `DB_PORT`); a fresh token is signed for each new connection,
 * and the proxy's certificate is verified (chain and host name) before the token is sent.
 * Locally and in tests `DATABASE_URL` is used as is.
 */
export function databasePool(environment: NodeJS.ProcessEnv = process.env): Sql {
  pool ??= createPoolFromEnvironment(environment);
  return pool;
}

function createPoolFromEnvironment(environment: NodeJS.ProcessEnv): Sql {
  const max = integerEnv('DB_POOL_MAX', 2, environment);
  const url = environment.DATABASE_URL;
  if (url) return createSql(url, { max });

  const hostname = requiredEnv('DB_PROXY_ENDPOINT', environment);
  const port = integerEnv('DB_PORT', 5432, environment);
  const username = requiredEnv('DB_USER', environment);
  const database = requiredEnv('DB_NAME', environment);
  const signer = new Signer({ hostname, port, username, region: requiredEnv('AWS_REGION', environment) });
  return createSql(`postgres://${encodeURIComponent(username)}@${hostname}:${port}/${database}`, {
    max,
    tls: verifiedTls(hostname),
    password: () => signer.getAuthToken(),
  });
}
