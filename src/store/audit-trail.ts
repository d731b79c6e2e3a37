import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import { badRequest, notFound, OperationOutcomeError } from '../fhir/outcome.js';
import { dateQuery, instantComparisons, referenceQuery, tokenQuery, unescapeValue, type TokenQuery } from '../fhir/search/query-values.js';
import { searchParameter } from '../fhir/search/registry.js';
import { relativeReference } from '../fhir/search/text.js';
import type { Resource } from '../fhir/version.js';
import { auditTrailRows, hasUnverifiedRequester, type AuditReferenceRow } from './audit-rows.js';
import { toInstant, type StoreContext } from './context.js';
import { newResourceId } from './ids.js';
import type { SearchParam, SearchRequest, SearchResult, SortRule } from '../fhir/search/types.js';
import type { AuditTrail } from './repository.js';
import type { Database } from './schema.js';

type Events = ExpressionBuilder<Database & { e: Database['audit_events'] }, 'e'>;
type Predicate = Expression<SqlBool>;

const EVENT_COLUMNS = ['tenant', 'id', 'recorded', 'type_system', 'type_code', 'subtype_system', 'subtype_code', 'outcome', 'content'] as const;
const INSERTED_COLUMNS = [...EVENT_COLUMNS, 'unverified'] as const;
const REFERENCE_COLUMNS = ['tenant', 'param', 'value', 'system', 'seq'] as const;
/** AuditEvent.outcome is a code of this system (R4 audit-event-outcome). */
const OUTCOME_SYSTEM = 'http://hl7.org/fhir/audit-event-outcome';

/**
 * The audit trail in two append-only tables (audit-rows.ts): an event costs one row, plus one per reference it
 * names, written in the caller's transaction. Kept apart from the resource store, an AuditEvent written on every
 * token and every read of patient data skips what a resource pays for (version bookkeeping, the generic index
 * entries of each of its parameters) and can never be updated or deleted through the REST API.
 */
export class KyselyAuditTrail implements AuditTrail {
  constructor(
    private readonly context: Pick<StoreContext, 'db' | 'atomically' | 'statements'>,
    private readonly clock: () => number = Date.now,
  ) {}

  async append(tenant: string, event: Resource): Promise<Resource> {
    const { resourceType: _type, id: _id, meta: _meta, ...content } = event;
    const recorded = Date.parse(String(event.recorded));
    const at = Number.isNaN(recorded) ? this.clock() : recorded;
    const stored: Resource = {
      resourceType: 'AuditEvent',
      id: newResourceId(at),
      meta: { versionId: '1', lastUpdated: toInstant(at) },
      ...content,
      ...(Number.isNaN(recorded) ? { recorded: toInstant(at) } : {}),
    };
    const { event: row, references } = auditTrailRows(tenant, stored);
    await this.context.atomically(async (context) => {
      const values = [...EVENT_COLUMNS.map((column) => row[column]), hasUnverifiedRequester(stored) ? 1 : 0];
      const [inserted] = await context.statements.insert('audit_events', INSERTED_COLUMNS, [values], 'seq');
      if (references.length > 0) {
        const seq = inserted.seq as number;
        await context.statements.insert('audit_references', REFERENCE_COLUMNS, references.map((reference) => referenceRow(reference, seq)));
      }
    });
    return stored;
  }

  async pruneBefore(before: Date, limit: number, which: 'all' | 'unverified'): Promise<number> {
    return this.context.atomically(async (context) => {
      const db = context.db();
      const oldest = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('recorded', '<', before.getTime())
        // A literal, not a parameter: only then may the planner use the partial index of unverified events.
        .$if(which === 'unverified', (query) => query.where('unverified', '=', sql.lit(1)))
        .orderBy('recorded')
        .limit(limit)
        .execute();
      const seqs = oldest.map((row) => row.seq);
      if (seqs.length === 0) return 0;
      await db.deleteFrom('audit_references').where('seq', 'in', seqs).execute();
      await db.deleteFrom('audit_events').where('seq', 'in', seqs).execute();
      return seqs.length;
    });
  }

  async read(tenant: string, id: string): Promise<Resource> {
    const [row] = await this.context.statements.run(
      'read-audit-event',
      (db, slot) => db.selectFrom('audit_events').select('content').where('tenant', '=', slot(0)).where('id', '=', slot(1)),
      [tenant, id],
    );
    if (!row) throw new OperationOutcomeError(notFound(`AuditEvent/${id} is not known`));
    return JSON.parse(row.content) as Resource;
  }

  async search(tenant: string, request: SearchRequest): Promise<SearchResult> {
    if (request.include.length > 0 || request.revinclude.length > 0) {
      throw new OperationOutcomeError(badRequest('_include and _revinclude are not supported on AuditEvent (the audit trail)'));
    }
    const matching = request.params.reduce(
      (query, param) => query.where((eb) => criterion(eb, tenant, param)),
      this.context.db().selectFrom('audit_events as e').where('e.tenant', '=', tenant),
    );
    const ordered = orderRules(request.sort).reduce(
      (query, [column, direction]) => query.orderBy(column, direction),
      matching.select('e.content'),
    );
    const rows = await ordered.limit(request.count + 1).offset(request.offset).execute();
    const resources = rows.slice(0, request.count).map((row) => JSON.parse(row.content) as Resource);
    const result: SearchResult = { resources, included: [], hasMore: rows.length > request.count };
    if (request.total === 'accurate') {
      const [{ total }] = await matching.select((eb) => eb.fn.countAll<number | string>().as('total')).execute();
      result.total = Number(total);
    }
    return result;
  }
}

const referenceRow = (reference: AuditReferenceRow, seq: number) => [reference.tenant, reference.param, reference.value, reference.system, seq];

function orderRules(sort: SortRule[]): [`e.${'recorded' | 'seq'}`, 'asc' | 'desc'][] {
  const rules = sort.map((rule): ['e.recorded', 'asc' | 'desc'] => {
    if (rule.code !== 'date' && rule.code !== '_lastUpdated') {
      throw new OperationOutcomeError(badRequest(`AuditEvent (the audit trail) sorts by date or _lastUpdated only, not '${rule.code}'`, '_sort'));
    }
    return ['e.recorded', rule.descending ? 'desc' : 'asc'];
  });
  // Ties (and a search without _sort) in the order the events were appended.
  const last = rules.at(-1)?.[1] ?? 'asc';
  return [...rules, ['e.seq', last]];
}

const MODIFIERS: Record<string, readonly (string | undefined)[]> = {
  _id: [undefined],
  _lastUpdated: [undefined],
  date: [undefined],
  type: [undefined, 'not'],
  subtype: [undefined, 'not'],
  outcome: [undefined, 'not'],
  agent: [undefined, 'identifier'],
  entity: [undefined, 'identifier'],
  patient: [undefined],
};

function criterion(eb: Events, tenant: string, param: SearchParam): Predicate {
  const allowed = MODIFIERS[param.code];
  if (!allowed) throw new OperationOutcomeError(badRequest(`Unknown search parameter '${param.code}' for AuditEvent`, param.code));
  const typeModifier = param.modifier !== undefined && /^[A-Z][A-Za-z]+$/.test(param.modifier) && ['agent', 'entity', 'patient'].includes(param.code);
  if (!allowed.includes(param.modifier) && !typeModifier) {
    throw new OperationOutcomeError(badRequest(`Modifier ':${param.modifier}' is not supported for '${param.code}' on AuditEvent (the audit trail)`, param.code));
  }
  switch (param.code) {
    case '_id':
      return eb('e.id', 'in', param.values.map(unescapeValue));
    case '_lastUpdated':
    case 'date':
      return eb.or(param.values.map((value) => recordedPredicate(eb, param.code, value)));
    case 'type':
    case 'subtype': {
      const predicate = eb.or(param.values.map(tokenQuery).map((query) => codingPredicate(eb, param.code as 'type' | 'subtype', query)));
      return param.modifier === 'not' ? eb.not(predicate) : predicate;
    }
    case 'outcome': {
      const predicate = eb.or(param.values.map(tokenQuery).map((query) => outcomePredicate(eb, query)));
      return param.modifier === 'not' ? eb.not(predicate) : predicate;
    }
    default:
      return eb('e.seq', 'in', referencingEvents(eb, tenant, param));
  }
}

/** `recorded` is an instant, compared as _lastUpdated is. */
function recordedPredicate(eb: Events, code: string, value: string): Predicate {
  const groups = instantComparisons(dateQuery(code, value));
  return eb.or(groups.map((group) => eb.and(group.map(([operator, millis]) => eb('e.recorded', operator, millis)))));
}

function codingPredicate(eb: Events, code: 'type' | 'subtype', query: TokenQuery): Predicate {
  const parts: Predicate[] = [];
  if (query.system === '') parts.push(eb(`e.${code}_system`, 'is', null));
  else if (query.system !== undefined) parts.push(eb(`e.${code}_system`, '=', query.system));
  if (query.code !== undefined) parts.push(eb(`e.${code}_code`, '=', query.code));
  return eb.and(parts);
}

function outcomePredicate(eb: Events, query: TokenQuery): Predicate {
  if (query.system !== undefined && query.system !== '' && query.system !== OUTCOME_SYSTEM) return eb.lit(false);
  return query.code === undefined ? eb('e.outcome', 'is not', null) : eb('e.outcome', '=', query.code);
}

/** The events naming one of the searched references (or, with `:identifier`, identifiers). */
function referencingEvents(eb: Events, tenant: string, param: SearchParam) {
  const references = eb.selectFrom('audit_references as r').select('r.seq').where('r.tenant', '=', tenant);
  if (param.modifier === 'identifier') {
    const queries = param.values.map(tokenQuery);
    return references.where('r.param', '=', `${param.code}:identifier`).where((rb) =>
      rb.or(
        queries.map((query) => {
          const parts: Predicate[] = [];
          if (query.system !== undefined) parts.push(rb('r.system', '=', query.system));
          if (query.code !== undefined) parts.push(rb('r.value', '=', query.code));
          return rb.and(parts);
        }),
      ),
    );
  }
  const parameter = searchParameter('r4', 'AuditEvent', param.code);
  if (!parameter) throw new OperationOutcomeError(badRequest(`Unknown search parameter '${param.code}' for AuditEvent`, param.code));
  const values = param.values.flatMap((value) => referenceQuery(parameter, value, param.modifier));
  // Stored references are relative (audit-rows.ts): an absolute one is searched by its `Type/id` tail.
  return references.where('r.param', '=', param.code).where('r.value', 'in', values.map((value) => relativeReference(value) ?? value));
}
