import pg from 'pg';

/** Drops every database this run's workers made (connections still open are ended). Imports nothing of ours, as global-setup.ts. */
export default async function globalTeardown(): Promise<void> {
  const prefix = process.env.GATEWAY_TEST_DATABASE_PREFIX;
  if (!prefix) return;
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [prefix]);
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
  } catch {
    // No PostgreSQL answered, so no database was made.
  } finally {
    await client.end().catch(() => undefined);
  }
}
