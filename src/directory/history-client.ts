import { GatewayError } from '../errors.js';
import { isObject, objects, stringAt, type JsonObject } from '../vocabulary/json.js';

/**
 * Reads an mCSD directory's changes (IHE ITI-91 Request Care Services Updates): `GET [base]/[type]/_history`, with
 * `_since` after the first round, following `next` links, newest first.
 */
export interface HistoryChange {
  resourceType: string;
  id: string;
  method: 'POST' | 'PUT' | 'DELETE';
  /** Absent for a deletion. */
  resource?: JsonObject;
}

export interface HistoryRound {
  /** Deduplicated, newest first: the newest version of each resource (a deletion newer than a write wins). */
  changes: HistoryChange[];
  warnings: string[];
  /** The server's time of the first page (its `meta.lastUpdated`), the `_since` of the next round. */
  answeredAt?: string;
  pages: number;
}

export type Fetch = typeof fetch;

export interface HistoryClientOptions {
  fetch: Fetch;
  pageSize: number;
  /** A round stops with an error beyond this many entries (a directory that never ends is not followed for ever). */
  maxEntries: number;
  timeoutMs: number;
}

export class DirectoryError extends GatewayError {
  static override readonly code = 'ERR_DIRECTORY_UNREADABLE';
}

/** The changes of one resource type since `since` (all of them without). */
export async function readChanges(base: string, resourceType: string, since: string | undefined, options: HistoryClientOptions): Promise<HistoryRound> {
  const first = new URL(`${base}/${resourceType}/_history`);
  first.searchParams.set('_count', String(options.pageSize));
  if (since) first.searchParams.set('_since', since);
  const round: HistoryRound = { changes: [], warnings: [], pages: 0 };
  const seen = new Set<string>();
  let entries = 0;
  for (let url: string | undefined = first.toString(); url; ) {
    const bundle = await fetchBundle(url, options);
    round.pages += 1;
    if (round.pages === 1) round.answeredAt = stringAt(bundle.meta, 'lastUpdated');
    for (const entry of objects(bundle.entry)) {
      entries += 1;
      if (entries > options.maxEntries) throw new DirectoryError(`${base}/${resourceType}/_history has more than ${options.maxEntries} entries`);
      const change = historyChange(entry, round.warnings);
      if (!change) continue;
      const key = `${change.resourceType}/${change.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      round.changes.push(change);
    }
    url = nextPage(bundle, base);
  }
  return round;
}

async function fetchBundle(url: string, options: HistoryClientOptions): Promise<JsonObject> {
  const response = await options.fetch(url, {
    headers: { accept: 'application/fhir+json' },
    redirect: 'error',
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!response.ok) throw new DirectoryError(`GET ${url}: HTTP ${response.status}`);
  const body: unknown = await response.json().catch(() => undefined);
  if (!isObject(body) || body.resourceType !== 'Bundle') throw new DirectoryError(`GET ${url}: not a Bundle`);
  return body;
}

/** The `next` link, only when it stays under the directory's base (a directory never sends the client elsewhere). */
function nextPage(bundle: JsonObject, base: string): string | undefined {
  const next = objects(bundle.link).find((link) => link.relation === 'next');
  const url = stringAt(next, 'url');
  if (url === undefined) return undefined;
  if (!url.startsWith(`${base}/`)) throw new DirectoryError(`next link ${url} leaves the directory ${base}`);
  return url;
}

const METHODS = new Set(['POST', 'PUT', 'DELETE']);

/** One history entry as a change; undefined (with a warning) when it cannot be one. */
function historyChange(entry: JsonObject, warnings: string[]): HistoryChange | undefined {
  const request = entry.request;
  const method = stringAt(request, 'method');
  if (!isObject(request) || method === undefined || !METHODS.has(method)) {
    warnings.push(`Skipping entry with no request (fullUrl ${stringAt(entry, 'fullUrl') ?? '-'})`);
    return undefined;
  }
  const resource = isObject(entry.resource) ? entry.resource : undefined;
  const [typeFromUrl, idFromUrl] = (stringAt(request, 'url') ?? '').split('?')[0]!.split('/');
  const resourceType = stringAt(resource, 'resourceType') ?? typeFromUrl;
  const id = stringAt(resource, 'id') ?? idFromUrl ?? idOfFullUrl(stringAt(entry, 'fullUrl'));
  if (!resourceType || !id) {
    warnings.push(`Skipping entry without a resource type and id (request ${method} ${stringAt(request, 'url') ?? '-'})`);
    return undefined;
  }
  if (method !== 'DELETE' && !resource) {
    warnings.push(`Skipping ${method} ${resourceType}/${id} without its resource`);
    return undefined;
  }
  return { resourceType, id, method: method as HistoryChange['method'], ...(method === 'DELETE' ? {} : { resource }) };
}

/** `.../Endpoint/ep-2/_history/2` → `ep-2`. */
function idOfFullUrl(fullUrl: string | undefined): string | undefined {
  const parts = (fullUrl ?? '').split('/');
  const at = parts.lastIndexOf('_history');
  return at > 0 ? parts[at - 1] : undefined;
}
