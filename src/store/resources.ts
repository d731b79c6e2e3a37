import { randomUUID } from 'node:crypto';
import { badRequest, conflict, gone, notFound, OperationOutcomeError, preconditionFailed } from '../fhir/outcome.js';
import { indexEntries, isResourceType } from '../fhir/search/index.js';
import type { Resource } from '../fhir/version.js';
import type {
  HistoryEntry,
  HistoryRequest,
  ResourceRepository,
  Scope,
  SearchRequest,
  SearchResult,
  WriteOptions,
} from './repository.js';
import { isUniqueViolation, toInstant, type StoreContext } from './context.js';
import { deleteIndexEntries, insertIndexEntries } from './index-writer.js';
import { searchResources } from './search-query.js';

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

const KEY_COLUMNS = ['tenant', 'fhir_version', 'resource_type', 'id'] as const;
const HISTORY_COLUMNS = [...KEY_COLUMNS, 'version_id', 'last_updated', 'method', 'content'] as const;
const RESOURCE_COLUMNS = [...KEY_COLUMNS, 'version_id', 'last_updated', 'deleted', 'content'] as const;

interface CurrentRow {
  rid: number;
  version_id: number;
  deleted: number;
}

/** Resources with full version history, and search over their index entries. */
export class KyselyResourceRepository implements ResourceRepository {
  constructor(private readonly context: StoreContext) {}

  async create<T extends Resource>(scope: Scope, resource: T): Promise<T> {
    this.checkType(scope, resource);
    const stored = withMeta(resource, randomUUID(), 1, Date.now());
    await this.context.atomically(() => this.writeVersion(scope, stored, 'POST', undefined));
    return stored;
  }

  async update<T extends Resource>(scope: Scope, resource: T, options: WriteOptions = {}): Promise<{ resource: T; created: boolean }> {
    this.checkType(scope, resource);
    const id = resource.id;
    if (typeof id !== 'string' || !ID.test(id)) {
      throw new OperationOutcomeError(badRequest(`Resource id '${String(id)}' is not a valid FHIR id`, `${resource.resourceType}.id`));
    }
    return this.context.atomically(async () => {
      const current = await this.lockCurrent(scope, resource.resourceType, id);
      checkVersion(resource.resourceType, id, options, current);
      const stored = withMeta(resource, id, (current?.version_id ?? 0) + 1, Date.now());
      await this.writeVersion(scope, stored, 'PUT', current);
      return { resource: stored, created: current === undefined || current.deleted === 1 };
    });
  }

  async read(scope: Scope, resourceType: string, id: string): Promise<Resource> {
    const row = ID.test(id)
      ? await this.context
          .db()
          .selectFrom('resources')
          .select(['content', 'deleted'])
          .where('tenant', '=', scope.tenant)
          .where('fhir_version', '=', scope.version)
          .where('resource_type', '=', resourceType)
          .where('id', '=', id)
          .executeTakeFirst()
      : undefined;
    if (!row) throw new OperationOutcomeError(notFound(`${resourceType}/${id} is not known`));
    if (row.deleted === 1 || row.content === null) throw new OperationOutcomeError(gone(`${resourceType}/${id} has been deleted`));
    return JSON.parse(row.content) as Resource;
  }

  async vread(scope: Scope, resourceType: string, id: string, versionId: string): Promise<Resource> {
    const row =
      ID.test(id) && /^[1-9]\d{0,9}$/.test(versionId)
        ? await this.context
            .db()
            .selectFrom('resource_history')
            .select(['content'])
            .where('tenant', '=', scope.tenant)
            .where('fhir_version', '=', scope.version)
            .where('resource_type', '=', resourceType)
            .where('id', '=', id)
            .where('version_id', '=', Number(versionId))
            .executeTakeFirst()
        : undefined;
    if (!row) throw new OperationOutcomeError(notFound(`${resourceType}/${id}/_history/${versionId} is not known`));
    if (row.content === null) throw new OperationOutcomeError(gone(`${resourceType}/${id}/_history/${versionId} is a deletion`));
    return JSON.parse(row.content) as Resource;
  }

  async delete(scope: Scope, resourceType: string, id: string, options: WriteOptions = {}): Promise<void> {
    if (!ID.test(id)) return;
    await this.context.atomically(async () => {
      const current = await this.lockCurrent(scope, resourceType, id);
      if (!current || current.deleted === 1) return;
      checkVersion(resourceType, id, options, current);
      const versionId = current.version_id + 1;
      const lastUpdated = Date.now();
      const db = this.context.db();
      await db
        .insertInto('resource_history')
        .values({ ...rowKey(scope, resourceType, id), version_id: versionId, last_updated: lastUpdated, method: 'DELETE', content: null })
        .execute();
      await db
        .updateTable('resources')
        .set({ version_id: versionId, last_updated: lastUpdated, deleted: 1, content: null })
        .where('rid', '=', current.rid)
        .execute();
      await deleteIndexEntries(db, current.rid);
    });
  }

  async history(scope: Scope, request: HistoryRequest): Promise<HistoryEntry[]> {
    if (request.id !== undefined && request.resourceType === undefined) {
      throw new OperationOutcomeError(badRequest('Instance history needs the resource type'));
    }
    const since = request.since === undefined ? undefined : Date.parse(request.since);
    if (since !== undefined && Number.isNaN(since)) {
      throw new OperationOutcomeError(badRequest(`_since '${request.since}' is not an instant`, '_since'));
    }
    const rows = await this.context
      .db()
      .selectFrom('resource_history')
      .select(['resource_type', 'id', 'version_id', 'last_updated', 'method', 'content'])
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .$if(request.resourceType !== undefined, (q) => q.where('resource_type', '=', request.resourceType as string))
      .$if(request.id !== undefined, (q) => q.where('id', '=', request.id as string).orderBy('version_id', 'desc'))
      .$if(since !== undefined, (q) => q.where('last_updated', '>=', since as number))
      .orderBy('last_updated', 'desc')
      .orderBy('hid', 'desc')
      .limit(Math.max(0, request.count))
      .execute();
    return rows.map((row) => {
      const entry: HistoryEntry = {
        resourceType: row.resource_type,
        id: row.id,
        versionId: String(row.version_id),
        lastUpdated: toInstant(row.last_updated),
        method: row.method,
      };
      if (row.content !== null) entry.resource = JSON.parse(row.content) as Resource;
      return entry;
    });
  }

  search(scope: Scope, request: SearchRequest): Promise<SearchResult> {
    return searchResources(this.context, scope, request);
  }

  private checkType(scope: Scope, resource: Resource): void {
    if (typeof resource.resourceType !== 'string' || !isResourceType(scope.version, resource.resourceType)) {
      throw new OperationOutcomeError(badRequest(`'${String(resource.resourceType)}' is not a ${scope.version} resource type`, 'resourceType'));
    }
  }

  /** The current row, locked until the transaction ends on PostgreSQL (SQLite transactions already hold the write lock). */
  private lockCurrent(scope: Scope, resourceType: string, id: string): Promise<CurrentRow | undefined> {
    return this.context
      .db()
      .selectFrom('resources')
      .select(['rid', 'version_id', 'deleted'])
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .where('resource_type', '=', resourceType)
      .where('id', '=', id)
      .$if(this.context.dialect === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
  }

  private async writeVersion(scope: Scope, resource: Resource, method: 'POST' | 'PUT', current: CurrentRow | undefined): Promise<void> {
    const db = this.context.db();
    const key = [scope.tenant, scope.version, resource.resourceType, resource.id as string];
    const versionId = Number(resource.meta?.versionId);
    const lastUpdated = Date.parse(resource.meta?.lastUpdated as string);
    const content = JSON.stringify(resource);
    const entries = indexEntries(scope.version, resource);
    try {
      await this.context.inserts.run(db, 'resource_history', HISTORY_COLUMNS, [[...key, versionId, lastUpdated, method, content]]);
      let rid: number;
      if (current) {
        rid = current.rid;
        await db.updateTable('resources').set({ version_id: versionId, last_updated: lastUpdated, deleted: 0, content }).where('rid', '=', rid).execute();
        await deleteIndexEntries(db, rid);
      } else {
        const [inserted] = await this.context.inserts.run(db, 'resources', RESOURCE_COLUMNS, [[...key, versionId, lastUpdated, 0, content]], 'rid');
        rid = inserted.rid as number;
      }
      await insertIndexEntries(db, this.context.inserts, { ...scope, resourceType: resource.resourceType }, rid, entries);
    } catch (error) {
      // Two writers created the same id at once (PostgreSQL): the loser retries with the version it now sees.
      if (isUniqueViolation(error)) {
        throw new OperationOutcomeError(conflict(`${resource.resourceType}/${resource.id} was written concurrently; retry`));
      }
      throw error;
    }
  }
}

function rowKey(scope: Scope, resourceType: string, id: string) {
  return { tenant: scope.tenant, fhir_version: scope.version, resource_type: resourceType, id };
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
    throw new OperationOutcomeError(preconditionFailed(`${resourceType}/${id}: If-Match expects version ${expected}, but ${found}`));
  }
}
