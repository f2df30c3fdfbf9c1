import postgres from 'postgres';
import { expect, inject, test } from 'vitest';

test('the shared PostgreSQL server answers and is version 16', async () => {
  const sql = postgres(inject('adminDatabaseUrl'), { prepare: false, max: 1 });
  const [row] = await sql`select current_setting('server_version_num')::int as version`;
  await sql.end();
  expect(Math.floor(Number(row?.version) / 10000)).toBe(16);
});
