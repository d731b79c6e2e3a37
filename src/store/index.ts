import type { ResourceLimits } from '../fhir/resource-limits.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from './repository.js';
import { PostgresSignals } from './changes.js';
import { KyselyStore } from './kysely-store.js';
import { migrate } from './migrations/index.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';

export interface StoreOptions {
  /** `postgres://...` selects PostgreSQL; without it the store is SQLite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** PostgreSQL only: keep every table in this schema (created when missing) instead of `public`. */
  schema?: string;
  /** Where the store reports what an operator should see; LOG_LEVEL's logger unless given. */
  logger?: Logger;
  /** What one resource written may hold (configuration `limits`); the defaults unless given. */
  limits?: ResourceLimits;
}

/** Opens the configured database and migrates it to the current schema before handing it out. */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    if (!/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
      throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL');
    }
    const db = await openPostgres(options.databaseUrl, options.schema);
    const signals = new PostgresSignals(options.databaseUrl, options.schema ?? 'public');
    return migrated(new KyselyStore('postgres', db, { signals, logger: options.logger, limits: options.limits }), () => migrate(db, 'postgres', options.schema ?? 'public'));
  }
  const { db, direct, stopCheckpointer } = openSqlite(options.dataDir);
  return migrated(new KyselyStore('sqlite', db, { beforeClose: stopCheckpointer, direct, logger: options.logger, limits: options.limits }), () => migrate(db, 'sqlite'));
}

async function migrated(store: KyselyStore, migration: () => Promise<void>): Promise<Store> {
  try {
    await migration();
    await store.start();
    return store;
  } catch (error) {
    await store.close();
    throw error;
  }
}

export type { Store } from './repository.js';
