import { afterAll, beforeAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { ensureDatabase, workerDatabaseUrl } from '../harness/postgres.js';

/**
 * The backends every store test runs against: SQLite in a temporary directory, and PostgreSQL when
 * TEST_DATABASE_URL (or the local default) answers, in the jest worker's database and a schema of its own that is dropped afterwards, so test files
 * running in parallel never see each other's rows.
 */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Opens a store on this backend's database; several calls share one database (as several instances would). */
  open(): Promise<Store>;
  /** Closes every store opened and removes the database. */
  dispose(): Promise<void>;
}

export const POSTGRES_URL = workerDatabaseUrl();

function sqliteBackend(): Backend {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'store-test-'));
  const stores: Store[] = [];
  return {
    name: 'sqlite',
    async open() {
      const store = await openStore({ dataDir });
      stores.push(store);
      return store;
    },
    async dispose() {
      await Promise.all(stores.map((store) => store.close()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const schema = `test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const stores: Store[] = [];
  return {
    name: 'postgres',
    async open() {
      const store = await openStore({ databaseUrl: POSTGRES_URL, dataDir: '', schema });
      stores.push(store);
      return store;
    },
    async dispose() {
      await Promise.all(stores.map((store) => store.close()));
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

export const postgresAvailable = await ensureDatabase(POSTGRES_URL);

/** Factories, not backends: each describe block makes its own (fresh database or schema). */
export const backends: [string, () => Backend][] = [
  ['sqlite', sqliteBackend],
  ...(postgresAvailable ? [['postgres', postgresBackend] as [string, () => Backend]] : []),
];

/**
 * The backend of the calling describe block: made before its tests (ahead of the block's own `beforeAll`) and
 * disposed of, every store opened on it closed, after them. Open stores on it in hooks and tests.
 */
export function useBackend(makeBackend: () => Backend): Pick<Backend, 'name' | 'open'> {
  let backend: Backend | undefined;
  const made = () => {
    if (!backend) throw new Error('useBackend: the backend exists only inside hooks and tests');
    return backend;
  };
  beforeAll(() => {
    backend = makeBackend();
  });
  afterAll(() => made().dispose());
  return {
    get name() {
      return made().name;
    },
    open: () => made().open(),
  };
}

let tenantCounter = 0;
/** A tenant no other test uses, so tests in one database never see each other's data. */
export function freshTenant(label = 'tenant'): string {
  tenantCounter += 1;
  return `${label}-${tenantCounter}-${Math.random().toString(36).slice(2, 8)}`;
}
