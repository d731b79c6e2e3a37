import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type QueryResult,
  type SqliteDatabase,
} from 'kysely';
import { startCheckpointer } from './checkpointer.js';
import type { Database } from './schema.js';

export const SQLITE_FILE = 'gateway.sqlite';

/** Pages in the WAL before a commit checkpoints itself; normally the checkpointer thread gets there first. */
const WAL_FALLBACK_CHECKPOINT_PAGES = 20_000;

/**
 * SQLite's own page cache of the connection, in KiB (better-sqlite3's default). It is the process's memory, while the
 * operating system caches the database file anyway: a page missing here costs a read system call, not a disk read.
 * At 64 MiB, 2,000 searches of a 1 M-resource store filled it, a fifth of the gateway's RSS, with search p95 no
 * better than at 16 or 8 MiB (docs/store.md, Memory).
 */
const PAGE_CACHE_KIB = 16 * 1024;

/**
 * Runs one statement on the connection at once (synchronously), bypassing kysely's queue for it: the store uses it
 * only while a unit of work holds the connection (inside its transaction), or for a read while no transaction
 * is open at all. `isReadOnly` says whether a statement only reads.
 */
export interface DirectSql {
  run(sql: string, parameters: readonly unknown[]): unknown[];
  isReadOnly(sql: string): boolean;
}

export interface SqliteDatabaseHandle {
  db: Kysely<Database>;
  direct: DirectSql;
  /** Stops the checkpointer thread; call before destroying `db`, so the last connection folds the WAL in. */
  stopCheckpointer(): Promise<void>;
}

/** The embedded database: `<dataDir>/gateway.sqlite` in WAL mode, one writer at a time. */
export function openSqlite(dataDir: string): SqliteDatabaseHandle {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE);
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  // No blocking busy wait: a locked database is retried asynchronously (BusyRetryingConnection).
  database.pragma('busy_timeout = 0');
  database.pragma('foreign_keys = ON');
  // Safe with WAL (a power cut may lose the last commits, never corrupt); fsync per commit would cap writes.
  database.pragma('synchronous = NORMAL');
  database.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  database.pragma(`wal_autocheckpoint = ${WAL_FALLBACK_CHECKPOINT_PAGES}`);
  const checkpointer = startCheckpointer(file);
  const cached = withStatementCache(database);
  const direct: DirectSql = {
    run(sql, parameters) {
      const statement = cached.prepare(sql) as BetterSqlite3.Statement;
      if (statement.reader) return statement.all(parameters);
      statement.run(parameters);
      return [];
    },
    isReadOnly: (sql) => (cached.prepare(sql) as BetterSqlite3.Statement).readonly,
  };
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new SqliteWriterDriver({ database: cached }),
      createIntrospector: (kysely) => new SqliteIntrospector(kysely),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return { db, direct, stopCheckpointer: () => checkpointer.stop() };
}

/**
 * Another connection to the same file (a second store, another process) may hold the write lock. Transactions take
 * that lock when they begin (a deferred one that reads first and writes later could fail half-way), and waiting for
 * it happens between event-loop turns: SQLite's own busy timeout would block the thread, and with it the very
 * transaction (of another store in this process) that holds the lock.
 */
class SqliteWriterDriver extends SqliteDriver {
  override async acquireConnection(): Promise<DatabaseConnection> {
    return new BusyRetryingConnection(await super.acquireConnection());
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

const BUSY_PATIENCE_MS = 5000;

class BusyRetryingConnection implements DatabaseConnection {
  constructor(private readonly connection: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const giveUpAt = Date.now() + BUSY_PATIENCE_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
      try {
        return await this.connection.executeQuery<R>(query);
      } catch (error) {
        // SQLITE_BUSY means the statement did not run, so running it again is safe.
        if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() > giveUpAt) throw error;
        await delay(wait);
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.connection.streamQuery<R>(query, chunkSize);
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
