import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './schema.js';

type Row = readonly unknown[];

/**
 * INSERTs on the write path, compiled by kysely once per table, column list and row count; later calls only bind
 * new values. Building and compiling the query tree anew cost more than SQLite took to run the statement.
 * One instance per store: the SQL text depends on the dialect.
 */
export class InsertStatements {
  private readonly sqlByShape = new Map<string, { sql: string; parameters: number }>();

  async run<T extends keyof Database & string>(
    db: Kysely<Database>,
    table: T,
    columns: readonly (keyof Database[T] & string)[],
    rows: readonly Row[],
    returning?: keyof Database[T] & string,
  ): Promise<Record<string, unknown>[]> {
    if (rows.length === 0) return [];
    const statement = this.statement(db, table, columns, rows.length, returning);
    const parameters: unknown[] = [];
    for (const row of rows) for (const value of row) parameters.push(value);
    if (parameters.length !== statement.parameters) throw new Error(`Insert into ${table}: rows do not match the columns`);
    const result = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(statement.sql, parameters));
    return result.rows;
  }

  private statement(db: Kysely<Database>, table: string, columns: readonly string[], count: number, returning?: string) {
    const shape = `${table}|${columns.join(',')}|${count}|${returning ?? ''}`;
    let statement = this.sqlByShape.get(shape);
    if (!statement) {
      // Distinct placeholder values, so the compiled parameter list shows the order kysely binds them in.
      const rows = Array.from({ length: count }, (_, r) => Object.fromEntries(columns.map((c, i) => [c, r * columns.length + i])));
      let query = (db as Kysely<any>).insertInto(table).values(rows);
      if (returning !== undefined) query = query.returning(returning) as typeof query;
      const compiled = query.compile();
      if (!compiled.parameters.every((value, index) => value === index)) throw new Error(`Unexpected parameter order for ${table}`);
      statement = { sql: compiled.sql, parameters: compiled.parameters.length };
      this.sqlByShape.set(shape, statement);
    }
    return statement;
  }
}
