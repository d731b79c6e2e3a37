import type { HistoryEntry } from './history.js';
import type { SearchResult } from './search/types.js';
import type { Resource } from './version.js';

/** Bundles the REST layer answers with (searchset, history, batch/transaction responses); the same shape in R4 and STU3. */
export interface BundleLink {
  relation: string;
  url: string;
}

export interface BundleEntry {
  fullUrl?: string;
  resource?: Resource;
  search?: { mode: 'match' | 'include' | 'outcome' };
  request?: { method: string; url: string; ifNoneExist?: string; ifMatch?: string };
  response?: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: Resource };
}

export interface Bundle extends Resource {
  resourceType: 'Bundle';
  type: string;
  total?: number;
  link?: BundleLink[];
  entry?: BundleEntry[];
}

export function fullUrl(baseUrl: string, resource: { resourceType: string; id?: string }): string {
  return `${baseUrl}/${resource.resourceType}/${resource.id}`;
}

/** `warnings`: an OperationOutcome about the search itself (e.g. ignored parameters), as an entry of mode outcome. */
export function searchsetBundle(baseUrl: string, result: SearchResult, links: BundleLink[], warnings?: Resource): Bundle {
  const entry: BundleEntry[] = [
    ...(warnings ? [{ resource: warnings, search: { mode: 'outcome' as const } }] : []),
    ...result.resources.map((resource) => ({ fullUrl: fullUrl(baseUrl, resource), resource, search: { mode: 'match' as const } })),
    ...result.included.map((resource) => ({ fullUrl: fullUrl(baseUrl, resource), resource, search: { mode: 'include' as const } })),
  ];
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link: links, entry };
  if (result.total !== undefined) bundle.total = result.total;
  return bundle;
}

const HISTORY_STATUS: Record<HistoryEntry['method'], string> = { POST: '201 Created', PUT: '200 OK', DELETE: '204 No Content' };

export function historyBundle(baseUrl: string, entries: HistoryEntry[], links: BundleLink[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    link: links,
    entry: entries.map((entry) => {
      const historyEntry: BundleEntry = {
        fullUrl: fullUrl(baseUrl, entry),
        request: { method: entry.method, url: entry.method === 'POST' ? entry.resourceType : `${entry.resourceType}/${entry.id}` },
        response: { status: HISTORY_STATUS[entry.method], etag: `W/"${entry.versionId}"`, lastModified: entry.lastUpdated },
      };
      if (entry.resource) historyEntry.resource = entry.resource;
      return historyEntry;
    }),
  };
}
