import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';

/**
 * The role every function connects as (created by migration 0008): it may do what the service
 * does and nothing more. The owner that runs the migrations is another role.
 */
export const APPLICATION_ROLE = 'checkout_app';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SCRAM_ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier of a password, in the form PostgreSQL stores (RFC 5802/7677). Sending
 * the verifier instead of the password keeps the password out of the server's statement logs.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Sets a role's login password, as the owner. In AWS this is the password of the role's
 * Secrets Manager secret, which RDS Proxy logs in with (the functions themselves authenticate to
 * the proxy with IAM and never see it); elsewhere whatever its runner chose. `ALTER ROLE` takes no bind
 * parameters, so the statement is built here from a checked role name and a verifier, which holds
 * only base64 characters and `$:-`.
 */
export async function setRolePassword(sql: Sql, role: string, password: string): Promise<void> {
  if (!ROLE_NAME.test(role)) throw new Error(`not a plain role name: "${role}"`);
  if (password.length < 16) throw new Error(`the password of ${role} must have at least 16 characters`);
  await sql.unsafe(`alter role ${role} with login password '${scramVerifier(password)}'`);
}

/** A database URL for `role` with `password`, on the same server and database as `url`. */
export function urlForRole(url: string, role: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(role);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
