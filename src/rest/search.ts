import { searchsetBundle, type BundleLink } from '../fhir/bundle.js';
import { allOk, outcome } from '../fhir/outcome.js';
import type { SearchRequest } from '../fhir/search/types.js';
import { mergeQueries, requestUrl } from './query.js';
import type { FhirHandler, FhirRequest, QueryValues } from './types.js';

/**
 * `GET [base]/[type]?...` and `POST [base]/[type]/_search` (form parameters, merged with any in the URL).
 * Unknown parameters are refused by the search parser (400), or with `Prefer: handling=lenient` ignored and reported
 * in an entry with search mode outcome; `_include`d resources come with search mode include. The page holds what fits
 * the request's response budget; when it stops short, its next link starts where it stopped.
 */
export const searchType: FhirHandler = async (request, context) => {
  const { type } = request.params;
  const query = searchQuery(request);
  const lenient = /handling\s*=\s*lenient/i.test(request.headers.prefer ?? '');
  const search = context.services.parseSearch(context.scope.version, type, query, { lenient, limits: context.services.limits });
  const result = await context.store.resources.search(context.scope, search, context.budget);
  const links: BundleLink[] = [{ relation: 'self', url: requestUrl(context.baseUrl, type, query) }];
  if (result.hasMore) links.push({ relation: 'next', url: requestUrl(context.baseUrl, type, nextPage(query, search, result.resources.length)) });
  const warnings = search.warnings?.length ? outcome('ok', search.warnings) : undefined;
  return [allOk, searchsetBundle(context.baseUrl, result, links, warnings)];
};

/** The parameters of a search: the URL's, plus the form body's for `POST _search`. */
export function searchQuery(request: FhirRequest): QueryValues {
  if (request.method !== 'POST' || !request.body) return request.query;
  return mergeQueries(request.query, request.body as QueryValues);
}

function nextPage(query: QueryValues, search: SearchRequest, served: number): QueryValues {
  return { ...query, _count: String(search.count), _offset: String(search.offset + served) };
}
