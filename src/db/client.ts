import type { ConnectionOptions } from 'node:tls';
import postgres, { type Sql } from 'postgres';
import { DATABASE_TIMEOUTS } from '../config/budget.js';

export type { Sql } from 'postgres';

export interface SqlClientOptions {
  /**
   * Connections in the pool. A Lambda handles one request at a time, so it needs one or two;
   * RDS Proxy does the pooling across containers.
   * @default 2
   */
  readonly max?: number;
  /** @default the budget's (docs/adr/0020) */
  readonly connectTimeoutSeconds?: number;
  /**
   * Idle connections close after this long so a frozen container does not hold proxy slots.
   * @default the budget's (docs/adr/0020)
   */
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
 * The array types statements may take or return, by type oid (the element's and the array's,
 * from `pg_type`). A parameter's type comes from the statement (`${skus}::text[]`), which the
 * server describes before postgres.js binds the value (it does with `prepare: false`); a value
 * of an array type not listed here would be sent as `String(array)` and fail ("malformed array
 * literal"), so a new one is added here, with a test in test/db/client.test.ts.
 */
const ARRAY_TYPES = {
  textArray: arrayType(1009, (element) => element),
  integerArray: arrayType(1007, Number),
  bigintArray: arrayType(1016, Number),
  uuidArray: arrayType(2951, (element) => element),
};

/** A one-dimensional PostgreSQL array of `oid`: JS array to literal, and literal to JS array. */
function arrayType<T>(oid: number, parseElement: (element: string) => T) {
  return {
    to: oid,
    from: [oid],
    serialize: (values: readonly unknown[]) =>
      `{${values.map((value) => (value === null || value === undefined ? 'NULL' : quoteElement(String(value)))).join(',')}}`,
    parse: (literal: string) =>
      parseArrayLiteral(literal).map((element) => (element === null ? null : parseElement(element))),
  };
}

const quoteElement = (element: string) => `"${element.replace(/[\\"]/g, (char) => `\\${char}`)}"`;

/**
 * The elements of a one-dimensional array literal as PostgreSQL writes it (`{a,"b c",NULL}`):
 * quoted elements with backslash escapes, unquoted ones as they are, unquoted NULL as null.
 */
export function parseArrayLiteral(literal: string): (string | null)[] {
  if (!literal.startsWith('{') || !literal.endsWith('}')) {
    throw new Error(`not a one-dimensional array literal: ${literal.slice(0, 40)}`);
  }
  const elements: (string | null)[] = [];
  let i = 1;
  while (i < literal.length - 1) {
    if (literal[i] === '"') {
      let element = '';
      i++;
      while (i < literal.length - 1 && literal[i] !== '"') {
        if (literal[i] === '\\') i++;
        element += literal[i];
        i++;
      }
      elements.push(element);
      i += 2; // the closing quote and the comma
    } else {
      const end = literal.indexOf(',', i);
      const element = literal.slice(i, end === -1 ? literal.length - 1 : end);
      if (element.startsWith('{')) throw new Error('multi-dimensional arrays are not supported');
      elements.push(element === 'NULL' ? null : element);
      i += element.length + 1;
    }
  }
  return elements;
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
    connect_timeout: options.connectTimeoutSeconds ?? DATABASE_TIMEOUTS.connectTimeoutSeconds,
    idle_timeout: options.idleTimeoutSeconds ?? DATABASE_TIMEOUTS.clientIdleTimeoutSeconds,
    max_lifetime: 60 * 15,
    ssl: options.tls ?? false,
    // No catalog query on connect: postgres.js would otherwise ask every new connection for all
    // array types before its first statement, and it discards that query's promise, so a database
    // that cuts the connection meanwhile (a restart, a failover) ends the process with an unhandled
    // rejection (porsager/postgres#1192): a function answering 500 or a saga step failing with
    // Runtime.UnhandledPromiseRejection. It also costs each cold container a round trip. The
    // arrays the service passes are declared instead (ARRAY_TYPES).
    fetch_types: false,
    types: {
      // Cents are bigint columns; every amount this service handles fits a JS number exactly.
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
      ...ARRAY_TYPES,
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
