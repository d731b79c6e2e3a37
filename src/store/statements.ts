import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { DirectSql } from './sqlite.js';

/**
 * A stand-in for a value in a query built once; `slot(i)` is filled with `values[i]` on every run. Typed `never`,
 * so it fits wherever the query builder expects a value.
 */
export type Slot = (index: number) => never;

const SLOT = Symbol('slot');
interface SlotValue {
  [SLOT]: number;
}
const isSlot = (value: unknown): value is SlotValue => typeof value === 'object' && value !== null && SLOT in value;

/** Where each bound parameter comes from: a slot, or a constant the query was built with. */
type Binding = { slot: number } | { constant: unknown };

interface Statement {
  sql: string;
  bindings: Binding[];
  /** SQLite: the statement only reads (known once it has been prepared). */
  readOnly?: boolean;
}

type Row = readonly unknown[];

/** Inserts of up to this many rows are one statement of their own size. */
const EXACT_ROWS = 32;
/** Larger ones are split into these (well inside both engines' limits on bound parameters). */
const CHUNK_ROWS = [256, 128, 64, 32];

export interface StatementExecutor {
  /** The unit of work's transaction, or the database itself outside one. */
  db(): Kysely<Database>;
  /** SQLite: the connection itself, and whether a statement may run on it directly now. */
  direct?: { sql: DirectSql; allowed(readOnly: boolean): boolean };
}

/**
 * Statements on the hot paths, built and compiled by kysely once per shape; later runs only bind new values.
 * Building and compiling the query tree anew cost more than SQLite took to run the statement, and on SQLite a
 * statement that may run on the connection directly skips kysely's executor and its promises (a few microseconds
 * per statement, several statements per write). One instance per store: the SQL text depends on the dialect.
 */
export class CompiledStatements {
  constructor(
    private readonly executor: StatementExecutor,
    private readonly byShape = new Map<string, Statement>(),
  ) {}

  /** The same compiled statements, run by another unit of work. */
  on(executor: StatementExecutor): CompiledStatements {
    return new CompiledStatements(executor, this.byShape);
  }

  /** Runs the query `build` makes; `shape` names it (the same shape must always build the same query). */
  async run<R>(shape: string, build: (db: Kysely<Database>, slot: Slot) => Compilable<R>, values: readonly unknown[]): Promise<R[]> {
    const db = this.executor.db();
    const statement = this.statement(db, shape, build);
    const parameters = statement.bindings.map((binding) => ('slot' in binding ? values[binding.slot] : binding.constant));
    const direct = this.executor.direct;
    if (direct) {
      statement.readOnly ??= direct.sql.isReadOnly(statement.sql);
      if (direct.allowed(statement.readOnly)) {
        try {
          return direct.sql.run(statement.sql, parameters) as R[];
        } catch (error) {
          // Another connection is recovering the database: kysely's path waits for it (see sqlite.ts).
          if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw error;
        }
      }
    }
    const result = await db.executeQuery<R>(CompiledQuery.raw(statement.sql, parameters));
    return result.rows;
  }

  /**
   * Multi-row INSERTs of `rows` (values in `columns` order), optionally returning one column of each row. Up to
   * 32 rows go in one statement; more go in chunks of 256, 128, 64 or 32 rows and the rest, so a table has a few
   * dozen statement shapes at most, whatever the batch sizes.
   */
  async insert<T extends keyof Database & string>(
    table: T,
    columns: readonly (keyof Database[T] & string)[],
    rows: readonly Row[],
    returning?: keyof Database[T] & string,
  ): Promise<Record<string, unknown>[]> {
    const returned: Record<string, unknown>[] = [];
    for (let start = 0; start < rows.length; ) {
      const left = rows.length - start;
      const size = left <= EXACT_ROWS ? left : CHUNK_ROWS.find((chunk) => chunk <= left)!;
      returned.push(...(await this.insertChunk(table, columns, rows.slice(start, start + size), returning)));
      start += size;
    }
    return returned;
  }

  private insertChunk<T extends keyof Database & string>(
    table: T,
    columns: readonly (keyof Database[T] & string)[],
    rows: readonly Row[],
    returning?: keyof Database[T] & string,
  ): Promise<Record<string, unknown>[]> {
    const values: unknown[] = [];
    for (const row of rows) {
      if (row.length !== columns.length) throw new Error(`Insert into ${table}: rows do not match the columns`);
      for (const value of row) values.push(value);
    }
    const shape = `insert|${table}|${columns.join(',')}|${rows.length}|${returning ?? ''}`;
    return this.run<Record<string, unknown>>(
      shape,
      (db, slot) => {
        const slotted = rows.map((_, r) => Object.fromEntries(columns.map((column, c) => [column, slot(r * columns.length + c)])));
        const query = (db as Kysely<any>).insertInto(table).values(slotted);
        return returning === undefined ? query : query.returning(returning);
      },
      values,
    );
  }

  private statement<R>(db: Kysely<Database>, shape: string, build: (db: Kysely<Database>, slot: Slot) => Compilable<R>): Statement {
    let statement = this.byShape.get(shape);
    if (!statement) {
      const compiled = build(db, (index) => ({ [SLOT]: index }) as never).compile();
      statement = {
        sql: compiled.sql,
        bindings: compiled.parameters.map((value) => (isSlot(value) ? { slot: value[SLOT] } : { constant: value })),
      };
      this.byShape.set(shape, statement);
    }
    return statement;
  }
}
