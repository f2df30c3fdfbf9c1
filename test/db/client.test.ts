import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSql, parseArrayLiteral, type Sql } from '../../src/db/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The pool every process builds (src/db/client.ts), on real PostgreSQL: no catalog query when a
 * connection opens (porsager/postgres#1192 discards that query's promise), so the array types the
 * service passes are its own, and must reach the server and come back exactly.
 */
describe('the sql pool', () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('sends nothing but the statement on a new connection: no catalog query for array types', async () => {
    const sent: string[] = [];
    const pool = createSql(db.url, { max: 1, debug: (_connection, query) => sent.push(query) });
    try {
      await pool`select 1 as one`;
    } finally {
      await pool.end({ timeout: 5 });
    }

    expect(sent).toEqual(['select 1 as one']);
  });

  const awkward = [
    'plain',
    'with space',
    'comma,inside',
    'quote"inside',
    'back\\slash',
    '{braces}',
    'NULL',
    '',
    'ünïcødé',
  ];

  test.each([
    ['text[]', awkward],
    ['text[] with null', ['a', null, 'b']],
    ['text[] empty', []],
    ['integer[]', [1, -2, 2147483647]],
    ['bigint[]', [0, 9007199254740991, -5]],
    ['uuid[]', [randomUUID(), randomUUID()]],
  ])('passes a %s parameter and reads it back as it was', async (label, values) => {
    const type = label.split(' ')[0] as string;

    const [row] = await sql.unsafe(`select $1::${type} as value, cardinality($1::${type}) as n`, [
      values as never,
    ]);

    expect(row?.value).toEqual(values);
    expect(row?.n).toBe(values.length);
  });

  test('reads arrays the server builds, unquoted and quoted elements alike', async () => {
    const [row] = await sql`
      select array['a', 'b c', null, 'd"e', 'f\\g']::text[] as texts, array[3, 1, 2]::integer[] as numbers
    `;

    expect(row).toEqual({ texts: ['a', 'b c', null, 'd"e', 'f\\g'], numbers: [3, 1, 2] });
  });

  test('refuses what it cannot read rather than guessing', () => {
    expect(() => parseArrayLiteral('{{1,2},{3,4}}')).toThrow(/multi-dimensional/);
    expect(() => parseArrayLiteral('1,2')).toThrow(/not a one-dimensional array literal/);
  });
});
