import type { Kysely } from 'kysely';
import type { DeferredIndex } from './deferred-index.js';
import type { CompiledStatements } from './statements.js';
import type { Database, Dialect } from './schema.js';

/** What the repositories share: the dialect, the executor of the current transaction (or the pool), atomicity. */
export interface StoreContext {
  readonly dialect: Dialect;
  /** The open transaction of the calling async context, or the database itself outside one. */
  db(): Kysely<Database>;
  /** Runs `work` in a transaction, joining the one already open in this async context. */
  atomically<T>(work: () => Promise<T>): Promise<T>;
  readonly statements: CompiledStatements;
  /** Index entries of the types written in batches (the patient data read by id). */
  readonly deferredIndex: DeferredIndex;
  /** The store's ChangeFeed.publish: tells every instance on the database that something changed. */
  publish(topic: string, message?: string): Promise<void>;
}

/** Both engines report a broken unique constraint their own way. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export const toInstant = (millis: number): string => new Date(millis).toISOString();
