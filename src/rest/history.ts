import { historyBundle } from '../fhir/bundle.js';
import { allOk, badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { HistoryRequest } from '../fhir/history.js';
import { requestUrl } from './query.js';
import type { FhirHandler, QueryValues } from './types.js';

export const DEFAULT_HISTORY_COUNT = 100;
export const MAX_HISTORY_COUNT = 1000;

/** The parameter of a `next` link: the position of the previous page's last version. */
const CURSOR = '_cursor';

/**
 * `GET [base]/[type]/[id]/_history` and `GET [base]/[type]/_history`: newest first, `_count` (at most
 * `limits.searchCount`) and `_since`, within the request's response budget. A full page links to the `next` one
 * (IHE mCSD update clients follow it); `meta.lastUpdated` is the server's time of the answer, the `_since` of a
 * client's next round.
 */
export const readHistory: FhirHandler = async (request, context) => {
  const answeredAt = new Date().toISOString();
  const parameters = historyParameters(request.query, Math.min(MAX_HISTORY_COUNT, context.services.limits.searchCount));
  const history: HistoryRequest = { resourceType: request.params.type, id: request.params.id, ...parameters };
  const entries = await context.store.resources.history(context.scope, history, context.budget);
  const links = [{ relation: 'self', url: requestUrl(context.baseUrl, request.pathname, request.query) }];
  const last = entries[entries.length - 1];
  if (last && entries.length === parameters.count) {
    links.push({ relation: 'next', url: requestUrl(context.baseUrl, request.pathname, { ...request.query, [CURSOR]: last.position }) });
  }
  return [allOk, { ...historyBundle(context.baseUrl, entries, links), meta: { lastUpdated: answeredAt } }];
};

function historyParameters(query: QueryValues, maxCount: number): Pick<HistoryRequest, 'count' | 'since' | 'after'> {
  const parameters: Pick<HistoryRequest, 'count' | 'since' | 'after'> = { count: Math.min(DEFAULT_HISTORY_COUNT, maxCount) };
  for (const [name, raw] of Object.entries(query)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (name === '_count') parameters.count = historyCount(value, maxCount);
    else if (name === '_since') parameters.since = instant(value);
    else if (name === CURSOR) parameters.after = value;
    else throw new OperationOutcomeError(badRequest(`Unknown history parameter '${name}'`, name));
  }
  return parameters;
}

function historyCount(value: string, maxCount: number): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new OperationOutcomeError(badRequest(`_count '${value}' is not a positive integer`, '_count'));
  return Math.min(count, maxCount);
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function instant(value: string): string {
  if (!INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw new OperationOutcomeError(badRequest(`_since '${value}' is not an instant such as 2024-05-01T10:00:00Z`, '_since'));
  }
  return new Date(value).toISOString();
}
