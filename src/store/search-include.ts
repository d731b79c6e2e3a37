import type { Kysely } from 'kysely';
import type { Resource } from '../fhir/version.js';
import type { Scope, SearchRequest } from './repository.js';
import type { Database } from './schema.js';

export interface Match {
  rid: number;
  resource: Resource;
}

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/** `_include` and `_revinclude`: the resources the matches refer to, and those referring to the matches. */
export async function included(db: Kysely<Database>, scope: Scope, request: SearchRequest, matches: Match[]): Promise<Resource[]> {
  if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) return [];
  const seen = new Set(matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`));
  const found: Resource[] = [];
  const add = (resources: Resource[]) => {
    for (const resource of resources) {
      const key = `${resource.resourceType}/${resource.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push(resource);
      }
    }
  };

  for (const include of request.include) {
    const [, code, targetType] = include.split(':');
    // The matches' rids are this scope's already; reading by key (rid, param) is the fast path.
    const rows = await db
      .selectFrom('search_reference')
      .select('reference')
      .distinct()
      .where('rid', 'in', matches.map((m) => m.rid))
      .where('param', '=', code)
      .execute();
    const targets = rows
      .map((row) => RELATIVE_REFERENCE.exec(row.reference))
      .filter((m): m is RegExpExecArray => m !== null && (targetType === undefined || m[1] === targetType));
    add(await currentResources(db, scope, targets.map((m) => ({ resourceType: m[1], id: m[2] }))));
  }

  for (const revinclude of request.revinclude) {
    const [sourceType, code] = revinclude.split(':');
    const rows = await db
      .selectFrom('resources as r')
      .select('r.content')
      .where('r.deleted', '=', 0)
      .where('r.rid', 'in', (eb) =>
        eb
          .selectFrom('search_reference')
          .select('rid')
          .where('tenant', '=', scope.tenant)
          .where('fhir_version', '=', scope.version)
          .where('resource_type', '=', sourceType)
          .where('param', '=', code)
          .where('reference', 'in', matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`)),
      )
      .execute();
    add(rows.map((row) => JSON.parse(row.content as string) as Resource));
  }
  return found;
}

async function currentResources(db: Kysely<Database>, scope: Scope, keys: { resourceType: string; id: string }[]): Promise<Resource[]> {
  const idsByType = new Map<string, string[]>();
  for (const key of keys) idsByType.set(key.resourceType, [...(idsByType.get(key.resourceType) ?? []), key.id]);
  const resources: Resource[] = [];
  for (const [resourceType, ids] of idsByType) {
    const rows = await db
      .selectFrom('resources')
      .select('content')
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .where('resource_type', '=', resourceType)
      .where('id', 'in', ids)
      .where('deleted', '=', 0)
      .execute();
    resources.push(...rows.map((row) => JSON.parse(row.content as string) as Resource));
  }
  return resources;
}

