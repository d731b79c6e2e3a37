/** FHIR search: parameter registry, query parsing and the index entries the store writes. */
export { parseSearchRequest, DEFAULT_COUNT, MAX_COUNT } from './parse.js';
export type { ParsedSearchRequest, SearchParseOptions, SearchQuery } from './parse.js';
export { registerSearchParameter, searchParameter, searchParameters, isResourceType } from './registry.js';
export type { CustomSearchParameter, SearchParameter, SearchParamType } from './registry.js';
export { indexEntries, MAX_INDEX_ENTRIES, UnindexableResource } from './index-entries.js';
export { isIndexedLater } from './indexed.js';
export type { IndexEntries } from './index-entries.js';
