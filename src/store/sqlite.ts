import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type SqliteDatabase,
} from 'kysely';
import { startCheckpointer } from './checkpointer.js';
import type { Database } from './schema.js';

export const SQLITE_FILE = 'gateway.sqlite';

/** Pages in the WAL before a commit checkpoints itself; normally the checkpointer thread gets there first. */
const WAL_FALLBACK_CHECKPOINT_PAGES = 20_000;

export interface SqliteDatabaseHandle {
  db: Kysely<Database>;
  /** Stops the checkpointer thread; call before destroying `db`, so the last connection folds the WAL in. */
  stopCheckpointer(): Promise<void>;
}

/** The embedded database: `<dataDir>/gateway.sqlite` in WAL mode, one writer at a time. */
export function openSqlite(dataDir: string): SqliteDatabaseHandle {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE);
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  // Safe with WAL (a power cut may lose the last commits, never corrupt); fsync per commit would cap writes.
  database.pragma('synchronous = NORMAL');
  database.pragma('cache_size = -65536');
  database.pragma(`wal_autocheckpoint = ${WAL_FALLBACK_CHECKPOINT_PAGES}`);
  const checkpointer = startCheckpointer(file);
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new ImmediateTransactionDriver({ database: withStatementCache(database) }),
      createIntrospector: (kysely) => new SqliteIntrospector(kysely),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return { db, stopCheckpointer: () => checkpointer.stop() };
}

/**
 * Transactions take the write lock when they begin: a deferred transaction that reads first and writes later can
 * fail with SQLITE_BUSY when another connection (a second instance on the same file) wrote in between.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

const STATEMENT_CACHE_SIZE = 1000;

/** Kysely prepares every statement anew; parsing SQL once per distinct text keeps repeated queries cheap. */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) {
        // Re-inserting keeps the map in least-recently-used order.
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
