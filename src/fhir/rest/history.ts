import { historyBundle } from '../bundle.js';
import { allOk, badRequest, OperationOutcomeError } from '../outcome.js';
import type { HistoryRequest } from '../../store/repository.js';
import { requestUrl } from './query.js';
import type { FhirHandler, QueryValues } from './types.js';

export const DEFAULT_HISTORY_COUNT = 100;
export const MAX_HISTORY_COUNT = 1000;

/** `GET [base]/[type]/[id]/_history` and `GET [base]/[type]/_history`: newest first, `_count` and `_since`. */
export const readHistory: FhirHandler = async (request, context) => {
  const history: HistoryRequest = { resourceType: request.params.type, id: request.params.id, ...historyParameters(request.query) };
  const entries = await context.store.resources.history(context.scope, history);
  const self = requestUrl(context.baseUrl, request.pathname, request.query);
  return [allOk, historyBundle(context.baseUrl, entries, [{ relation: 'self', url: self }])];
};

function historyParameters(query: QueryValues): Pick<HistoryRequest, 'count' | 'since'> {
  const parameters: Pick<HistoryRequest, 'count' | 'since'> = { count: DEFAULT_HISTORY_COUNT };
  for (const [name, raw] of Object.entries(query)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (name === '_count') parameters.count = historyCount(value);
    else if (name === '_since') parameters.since = instant(value);
    else throw new OperationOutcomeError(badRequest(`Unknown history parameter '${name}'`, name));
  }
  return parameters;
}

function historyCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new OperationOutcomeError(badRequest(`_count '${value}' is not a positive integer`, '_count'));
  return Math.min(count, MAX_HISTORY_COUNT);
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function instant(value: string): string {
  if (!INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw new OperationOutcomeError(badRequest(`_since '${value}' is not an instant such as 2024-05-01T10:00:00Z`, '_since'));
  }
  return new Date(value).toISOString();
}
