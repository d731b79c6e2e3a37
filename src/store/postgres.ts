import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database } from './schema.js';

const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * PostgreSQL through a connection pool; several gateway instances share one database. `schema` puts every table in
 * that schema (created when missing) instead of `public`: tests use a fresh one per file.
 */
export async function openPostgres(databaseUrl: string, schema?: string): Promise<Kysely<Database>> {
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`Invalid PostgreSQL schema name '${schema}'`);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    // Row ids and epoch-millisecond instants are bigint; they stay far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle connection the server dropped is discarded by the pool; the next query gets a fresh one.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (schema !== undefined) await createSchema(db, schema);
  return db;
}

/** Instances starting together may race to create the schema; losing that race is fine. */
async function createSchema(db: Kysely<Database>, schema: string): Promise<void> {
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P06') throw error;
  }
}
