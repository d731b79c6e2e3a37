import type { Kysely } from 'kysely';
import type { DeferredIndex } from './deferred-index.js';
import type { CompiledStatements } from './statements.js';
import type { Database, Dialect } from './schema.js';

/**
 * What the repositories of one unit of work share: the dialect, its executor (its transaction, or the database
 * itself for the store outside any transaction), atomicity.
 */
export interface StoreContext {
  readonly dialect: Dialect;
  /** This unit of work's transaction, or the database itself outside one. */
  db(): Kysely<Database>;
  /** Runs `work` atomically on the context it is given: this one inside a transaction, else a new transaction's. */
  atomically<T>(work: (context: StoreContext) => Promise<T>): Promise<T>;
  readonly statements: CompiledStatements;
  /** Index entries of the types written in batches (the patient data read by id). */
  readonly deferredIndex: DeferredIndex;
  /** This unit of work's ChangeFeed.publish: tells every instance on the database that something changed. */
  publish(topic: string, message?: string): Promise<void>;
}

/** Both engines report a broken unique constraint their own way. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export const toInstant = (millis: number): string => new Date(millis).toISOString();
