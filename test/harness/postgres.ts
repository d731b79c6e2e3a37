import pg from 'pg';

/**
 * The PostgreSQL database of a jest worker: `<database>_<run>_w<worker>` on the TEST_DATABASE_URL server, made when a
 * test first needs it, dropped when the run ends (test/harness/global-teardown.js). Files in one worker run one after another,
 * so a file dropping its schema never races another file's migration (whose table introspection reads its database's
 * whole catalogue), and two jest runs at once never share a database.
 */
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL of this worker's database. */
export function workerDatabaseUrl(): string {
  const url = new URL(SERVER_URL);
  const prefix = process.env.GATEWAY_TEST_DATABASE_PREFIX ?? `${url.pathname.slice(1) || 'test'}_solo${process.pid}_w`;
  url.pathname = `/${prefix}${process.env.JEST_WORKER_ID ?? '0'}`;
  return url.toString();
}

/** Creates the database when missing; false when no PostgreSQL answers at TEST_DATABASE_URL. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name}"`);
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
