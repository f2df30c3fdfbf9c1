import type { ConnectionOptions } from 'node:tls';
import postgres, { type Sql } from 'postgres';

export type { Sql } from 'postgres';

export interface SqlClientOptions {
  /**
   * Connections in the pool. A Lambda handles one request at a time, so it needs one or two;
   * RDS Proxy does the pooling across containers.
   * @default 2
   */
  readonly max?: number;
  /** @default 5 */
  readonly connectTimeoutSeconds?: number;
  /** Idle connections close after this long so a frozen container does not hold proxy slots. @default 30 */
  readonly idleTimeoutSeconds?: number;
  /**
   * TLS to the server (required by RDS Proxy), with these options: use `verifiedTls()` from
   * `./tls.js`, which checks the certificate chain and the host name. @default - no TLS
   */
  readonly tls?: ConnectionOptions;
  /**
   * Password source, called for every new connection: RDS IAM authentication hands out tokens
   * that expire after 15 minutes, so it cannot be a fixed string in the URL.
   */
  readonly password?: () => Promise<string>;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. @default 'postgres.js' */
  readonly applicationName?: string;
  /** Called for every query sent; used to count round trips. */
  readonly debug?: (connection: number, query: string, parameters: unknown[]) => void;
}

/**
 * The one `sql` pool of a process.
 *
 * `prepare: false` is not optional: behind RDS Proxy (and PgBouncer in transaction mode) named
 * prepared statements pin connections or hang when a statement lands on a different server
 * connection than the one it was prepared on.
 */
export function createSql(url: string, options: SqlClientOptions = {}): Sql {
  return postgres(url, {
    prepare: false,
    max: options.max ?? 2,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: options.idleTimeoutSeconds ?? 30,
    max_lifetime: 60 * 15,
    ssl: options.tls ?? false,
    // Cents are bigint columns; every amount this service handles fits a JS number exactly.
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
    onnotice: () => {},
    ...(options.password ? { password: options.password } : {}),
    ...(options.debug ? { debug: options.debug } : {}),
    ...(options.applicationName ? { connection: { application_name: options.applicationName } } : {}),
  });
}

/** What readiness asks of the database: one round trip through the pool the handlers use. */
export interface DatabaseProbe {
  ping(): Promise<void>;
}

export function databaseProbe(sql: Sql): DatabaseProbe {
  return {
    async ping() {
      await sql`select 1`;
    },
  };
}
