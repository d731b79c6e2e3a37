import type { Compilable, Kysely } from 'kysely';
import { badRequest, conflict, gone, notFound, OperationOutcomeError, preconditionFailed, unprocessable } from '../fhir/outcome.js';
import { indexEntries, isResourceType, UnindexableResource, type IndexEntries } from '../fhir/search/index.js';
import { checkResourceLimits, type ResourceLimits } from '../fhir/resource-limits.js';
import type { ResponseBudget } from '../fhir/response-budget.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { HistoryEntry, HistoryRequest } from '../fhir/history.js';
import type { SearchRequest, SearchResult } from '../fhir/search/types.js';
import type { ResourceRepository, Scope, WriteOptions } from './repository.js';
import { isUniqueViolation, toInstant, type StoreContext } from './context.js';
import { DeferredIndex } from './deferred-index.js';
import { readHistory } from './history.js';
import { newResourceId } from './ids.js';
import { deleteIndexEntries, insertIndexEntries } from './index-writer.js';
import type { Database } from './schema.js';
import { searchResources } from './search-query.js';
import { VersionConflict } from './optimistic.js';
import { nextWriteSeq } from './sequence.js';
import type { Slot } from './statements.js';

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const VERSION_ID = /^[1-9]\d{0,9}$/;

const RESOURCE_COLUMNS = ['tenant', 'fhir_version', 'resource_type', 'id', 'version_id', 'last_updated', 'deleted', 'method', 'seq', 'content'] as const;
const HISTORY_COLUMNS = ['tenant', 'fhir_version', 'resource_type', 'id', 'version_id', 'last_updated', 'method', 'seq', 'content'] as const;

interface CurrentRow {
  rid: number;
  version_id: number;
  deleted: number;
}

/**
 * Resources with full version history, and search over their index entries. The current version lives in
 * `resources` only; a write that supersedes it moves it to `resource_history` first (so a create writes one row).
 */
export class KyselyResourceRepository implements ResourceRepository {
  constructor(
    private readonly context: StoreContext,
    /** Every resource written passes here, whichever way it came (REST, batch, transfer, capacity): one check. */
    private readonly limits: ResourceLimits,
  ) {}

  async create<T extends Resource>(scope: Scope, resource: T): Promise<T> {
    this.checkType(scope, resource);
    const now = Date.now();
    const stored = withMeta(resource, newResourceId(now), 1, now);
    await this.context.atomically((context) => this.writeVersion(context, scope, stored, 'POST', undefined));
    return stored;
  }

  async update<T extends Resource>(scope: Scope, resource: T, options: WriteOptions = {}): Promise<{ resource: T; created: boolean }> {
    this.checkType(scope, resource);
    const id = resource.id;
    if (typeof id !== 'string' || !ID.test(id)) {
      throw new OperationOutcomeError(badRequest(`Resource id '${String(id)}' is not a valid FHIR id`, `${resource.resourceType}.id`));
    }
    return this.context.atomically(async (context) => {
      const current = await lockCurrent(context, scope, resource.resourceType, id);
      checkVersion(resource.resourceType, id, options, current);
      const stored = withMeta(resource, id, (current?.version_id ?? 0) + 1, Date.now());
      await this.writeVersion(context, scope, stored, 'PUT', current);
      return { resource: stored, created: current === undefined || current.deleted === 1 };
    });
  }

  async read(scope: Scope, resourceType: string, id: string): Promise<Resource> {
    const [row] = ID.test(id)
      ? await run(
          this.context,
          'read',
          (db, slot) =>
            db
              .selectFrom('resources')
              .select(['content', 'deleted'])
              .where('tenant', '=', slot(0))
              .where('fhir_version', '=', slot(1))
              .where('resource_type', '=', slot(2))
              .where('id', '=', slot(3)),
          [scope.tenant, scope.version, resourceType, id],
        )
      : [];
    if (!row) throw new OperationOutcomeError(notFound(`${resourceType}/${id} is not known`));
    if (row.deleted === 1 || row.content === null) throw new OperationOutcomeError(gone(`${resourceType}/${id} has been deleted`));
    return JSON.parse(row.content) as Resource;
  }

  async vread(scope: Scope, resourceType: string, id: string, versionId: string): Promise<Resource> {
    const [row] =
      ID.test(id) && VERSION_ID.test(versionId)
        ? await run(
            this.context,
            'vread',
            (db, slot) => {
              const version = (table: 'resources' | 'resource_history') =>
                db
                  .selectFrom(table)
                  .select('content')
                  .where('tenant', '=', slot(0))
                  .where('fhir_version', '=', slot(1))
                  .where('resource_type', '=', slot(2))
                  .where('id', '=', slot(3))
                  .where('version_id', '=', slot(4));
              return version('resources').unionAll(version('resource_history'));
            },
            [scope.tenant, scope.version, resourceType, id, Number(versionId)],
          )
        : [];
    if (!row) throw new OperationOutcomeError(notFound(`${resourceType}/${id}/_history/${versionId} is not known`));
    if (row.content === null) throw new OperationOutcomeError(gone(`${resourceType}/${id}/_history/${versionId} is a deletion`));
    return JSON.parse(row.content) as Resource;
  }

  async delete(scope: Scope, resourceType: string, id: string, options: WriteOptions = {}): Promise<void> {
    if (!ID.test(id)) return;
    await this.context.atomically(async (context) => {
      const current = await lockCurrent(context, scope, resourceType, id);
      if (!current || current.deleted === 1) return;
      checkVersion(resourceType, id, options, current);
      const seq = nextWriteSeq();
      await supersede(context, current.rid);
      await run(
        context,
        'mark-deleted',
        (db, slot) =>
          db
            .updateTable('resources')
            .set({ version_id: slot(0), last_updated: slot(1), deleted: 1, method: 'DELETE', seq: slot(2), content: null })
            .where('rid', '=', slot(3)),
        [current.version_id + 1, Date.now(), seq, current.rid],
      );
      await deleteIndexEntries(context, current.rid);
    });
  }

  history(scope: Scope, request: HistoryRequest, budget?: ResponseBudget): Promise<HistoryEntry[]> {
    return readHistory(this.context.db(), scope, request, budget);
  }

  search(scope: Scope, request: SearchRequest, budget?: ResponseBudget): Promise<SearchResult> {
    return searchResources(this.context, scope, request, budget);
  }

  private checkType(scope: Scope, resource: Resource): void {
    if (typeof resource.resourceType !== 'string' || !isResourceType(scope.version, resource.resourceType)) {
      throw new OperationOutcomeError(badRequest(`'${String(resource.resourceType)}' is not a ${scope.version} resource type`, 'resourceType'));
    }
  }

  private async writeVersion(context: StoreContext, scope: Scope, resource: Resource, method: 'POST' | 'PUT', current: CurrentRow | undefined): Promise<void> {
    const versionId = Number(resource.meta?.versionId);
    const lastUpdated = Date.parse(resource.meta?.lastUpdated as string);
    const content = JSON.stringify(resource);
    checkResourceLimits(resource, content, this.limits);
    const deferred = DeferredIndex.defers(resource.resourceType) && context.deferredIndex.accepts();
    const entries = deferred ? undefined : entriesForWrite(scope.version, resource);
    try {
      const seq = nextWriteSeq();
      let rid: number;
      if (current) {
        rid = current.rid;
        await supersede(context, rid);
        await run(
          context,
          'replace-current',
          (db, slot) =>
            db
              .updateTable('resources')
              .set({ version_id: slot(0), last_updated: slot(1), deleted: 0, method: slot(2), seq: slot(3), content: slot(4) })
              .where('rid', '=', slot(5)),
          [versionId, lastUpdated, method, seq, content, rid],
        );
        await deleteIndexEntries(context, rid);
      } else {
        const key = [scope.tenant, scope.version, resource.resourceType, resource.id as string];
        const row = [...key, versionId, lastUpdated, 0, method, seq, content];
        const [inserted] = await context.statements.insert('resources', RESOURCE_COLUMNS, [row], 'rid');
        rid = inserted.rid as number;
      }
      if (entries) await insertIndexEntries(context, [{ rid, ...scope, resourceType: resource.resourceType, entries }]);
      else await context.deferredIndex.enqueue(context, rid, scope.tenant);
    } catch (error) {
      // Two writers created the same id at once (PostgreSQL): the loser retries with the version it now sees.
      if (isUniqueViolation(error)) {
        const key = `${resource.resourceType}/${resource.id}`;
        throw new VersionConflict(key, conflict(`${key} was written concurrently; retry`));
      }
      throw error;
    }
  }
}

function run<R>(context: StoreContext, shape: string, build: (db: Kysely<Database>, slot: Slot) => Compilable<R>, values: unknown[]): Promise<R[]> {
  return context.statements.run(shape, build, values);
}

/** The current row, locked until the transaction ends on PostgreSQL (SQLite transactions already hold the write lock). */
async function lockCurrent(context: StoreContext, scope: Scope, resourceType: string, id: string): Promise<CurrentRow | undefined> {
  const [row] = await run(
    context,
    'lock-current',
    (db, slot) =>
      db
        .selectFrom('resources')
        .select(['rid', 'version_id', 'deleted'])
        .where('tenant', '=', slot(0))
        .where('fhir_version', '=', slot(1))
        .where('resource_type', '=', slot(2))
        .where('id', '=', slot(3))
        .$if(context.dialect === 'postgres', (q) => q.forUpdate()),
    [scope.tenant, scope.version, resourceType, id],
  );
  return row;
}

/** Moves the current version of resource `rid` into the history (the database copies it; its JSON never comes here). */
async function supersede(context: StoreContext, rid: number): Promise<void> {
  await run(
    context,
    'supersede',
    (db, slot) =>
      db
        .insertInto('resource_history')
        .columns([...HISTORY_COLUMNS])
        .expression(
          db
            .selectFrom('resources')
            .select([...HISTORY_COLUMNS])
            .where('rid', '=', slot(0)),
        ),
    [rid],
  );
}

/** The entries of a resource indexed as it is written; one that cannot be indexed is refused (422). */
function entriesForWrite(version: FhirVersion, resource: Resource): IndexEntries {
  try {
    return indexEntries(version, resource);
  } catch (error) {
    if (!(error instanceof UnindexableResource)) throw error;
    throw new OperationOutcomeError(unprocessable(`The ${resource.resourceType} cannot be indexed: ${error.message}`, resource.resourceType));
  }
}

/** A copy of the resource with the server's id and meta (resourceType, id and meta first, as FHIR JSON usually is). */
function withMeta<T extends Resource>(resource: T, id: string, versionId: number, lastUpdated: number): T {
  const { resourceType, id: _id, meta, ...rest } = resource;
  return { resourceType, id, meta: { ...meta, versionId: String(versionId), lastUpdated: toInstant(lastUpdated) }, ...rest } as unknown as T;
}

function checkVersion(resourceType: string, id: string, options: WriteOptions, current: CurrentRow | undefined): void {
  if (options.ifMatch === undefined) return;
  const expected = options.ifMatch.replace(/^W\//, '').replace(/"/g, '');
  const actual = current && current.deleted === 0 ? String(current.version_id) : undefined;
  if (expected !== actual) {
    const found = actual === undefined ? 'it does not exist' : `the current version is ${actual}`;
    throw new VersionConflict(`${resourceType}/${id}`, preconditionFailed(`${resourceType}/${id}: If-Match expects version ${expected}, but ${found}`));
  }
}
