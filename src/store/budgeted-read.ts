import { sql, type Kysely } from 'kysely';
import { OperationOutcomeError, tooLarge } from '../fhir/outcome.js';
import type { ResponseBudget } from '../fhir/response-budget.js';
import type { Resource } from '../fhir/version.js';
import type { Database } from './schema.js';

/**
 * Reading resources for an answer within the request's response budget: first their rids and sizes (small rows),
 * then the content of only those that fit. The JSON of a resource that does not fit never leaves the database.
 */
export interface Candidate {
  rid: number;
  bytes: number;
}

export interface Match {
  rid: number;
  resource: Resource;
}

/** The size of a resource row's JSON (`octet_length`: the same function on SQLite and PostgreSQL). */
export const contentBytes = (column: string) => sql<number>`octet_length(${sql.ref(column)})`;

/** The leading candidates that fit the budget (and are counted against it), in their order. */
export function withinBudget<C extends Candidate>(budget: ResponseBudget, candidates: C[]): C[] {
  const taken: C[] = [];
  for (const candidate of candidates) {
    if (!budget.take(Number(candidate.bytes))) break;
    taken.push(candidate);
  }
  return taken;
}

/** Every candidate, or a too-costly outcome naming the limit (for what a page cannot stop short of: its includes). */
export function allWithinBudget<C extends Candidate>(budget: ResponseBudget, candidates: C[], what: string): C[] {
  const taken = withinBudget(budget, candidates);
  if (taken.length < candidates.length) {
    throw new OperationOutcomeError(tooLarge(`${what} exceed ${budget.describe()}; ask for a smaller _count`));
  }
  return taken;
}

/** The current content of these resource rows, in the order given; a row deleted since it was chosen is left out. */
export async function contentsOf(db: Kysely<Database>, rids: number[]): Promise<Match[]> {
  if (rids.length === 0) return [];
  const rows = await db.selectFrom('resources').select(['rid', 'content']).where('rid', 'in', rids).where('deleted', '=', 0).execute();
  const contents = new Map(rows.map((row) => [Number(row.rid), row.content]));
  return rids.flatMap((rid) => {
    const content = contents.get(rid);
    return typeof content === 'string' ? [{ rid, resource: JSON.parse(content) as Resource }] : [];
  });
}
