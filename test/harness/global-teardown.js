import { rmSync } from 'node:fs';
import pg from 'pg';

/** jest globalTeardown: removes the run's temporary folder and drops its PostgreSQL databases, made as `global-setup.js` says. */
export default async function globalTeardown() {
  if (process.env.TEST_RUN_FOLDER) rmSync(process.env.TEST_RUN_FOLDER, { recursive: true, force: true });
  await dropRunDatabases(process.env.GATEWAY_TEST_DATABASE_PREFIX);
}

/** Connections still open to them are ended; when no PostgreSQL answers, no database was made. */
async function dropRunDatabases(prefix) {
  if (!prefix) return;
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const { rows } = await client.query('select datname from pg_database where starts_with(datname, $1)', [prefix]);
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
  } catch {
    // nothing to drop
  } finally {
    await client.end().catch(() => undefined);
  }
}
