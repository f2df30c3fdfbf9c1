import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findFreePort } from '../../local/ports.js';
import { createSql } from '../../src/db/client.js';
import { AMAZON_PROXY_ROOTS, verifiedTls } from '../../src/db/tls.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * `verifiedTls()` against a TLS-terminating stand-in for RDS Proxy in front of the test
 * PostgreSQL: it answers PostgreSQL's SSLRequest, does the TLS handshake with a certificate of a
 * test CA, and relays the plain protocol to the server. The chain and the host name must both be
 * right for a query to go through.
 */
describe('verified TLS to the database proxy', () => {
  let db: TestDatabase;
  let dir: string;
  let proxy: Server;
  let port: number;
  let testCa: string;

  function openssl(...args: string[]) {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'checkout-tls-'));
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Test Proxy CA',
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'proxy.key',
      '-out',
      'proxy.csr',
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName = DNS:localhost\n');
    openssl(
      'x509',
      '-req',
      '-in',
      'proxy.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'proxy.pem',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    );
    testCa = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    const key = readFileSync(path.join(dir, 'proxy.key'));
    const cert = readFileSync(path.join(dir, 'proxy.pem'));
    const server = new URL(db.url);

    proxy = createServer((client: Socket) => {
      client.once('data', () => {
        // The 8-byte SSLRequest: say yes, then speak TLS on the same socket.
        client.write('S');
        const secure = new TLSSocket(client, { isServer: true, key, cert });
        const upstream = connect(Number(server.port), server.hostname);
        secure.pipe(upstream).pipe(secure);
        const close = () => {
          secure.destroy();
          upstream.destroy();
        };
        secure.on('error', close);
        upstream.on('error', close);
      });
      client.on('error', () => client.destroy());
    });
    port = await findFreePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  async function query(host: string, roots: readonly string[], expectedHost = host) {
    const url = new URL(db.url);
    url.hostname = host;
    url.port = String(port);
    const sql = createSql(url.toString(), {
      max: 1,
      connectTimeoutSeconds: 5,
      tls: verifiedTls(expectedHost, roots),
    });
    try {
      const [row] = await sql<{ one: number }[]>`select 1 as one`;
      return row?.one;
    } catch (error) {
      return (error as { code?: string }).code;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  test('the right chain and host name: the query goes through', async () => {
    expect(await query('localhost', [testCa])).toBe(1);
  });

  test('a certificate from a CA other than the Amazon roots is refused before anything is sent', async () => {
    expect(AMAZON_PROXY_ROOTS.length).toBe(5);
    expect(await query('localhost', AMAZON_PROXY_ROOTS)).toMatch(
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
  });

  test('a trusted certificate for another host name is refused', async () => {
    expect(await query('localhost', [testCa], 'proxy.example.com')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await query('127.0.0.1', [testCa])).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
