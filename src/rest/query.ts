import type { QueryValues } from './types.js';

/**
 * Query strings ↔ QueryValues (a repeated name keeps every value, in order). Parameter names are caller input, so
 * the maps have no prototype for a `__proto__` name to reach.
 */
export function queryValues(search: string | URLSearchParams): QueryValues {
  const query: QueryValues = Object.create(null);
  for (const [name, value] of new URLSearchParams(search)) appendValue(query, name, value);
  return query;
}

/** The union of several queries: values for the same name are kept side by side. */
export function mergeQueries(...queries: QueryValues[]): QueryValues {
  const merged: QueryValues = Object.create(null);
  for (const query of queries) for (const [name, values] of Object.entries(query)) appendValue(merged, name, values);
  return merged;
}

function appendValue(query: QueryValues, name: string, value: string | string[]): void {
  const previous = Object.hasOwn(query, name) ? query[name] : undefined;
  query[name] = previous === undefined ? value : [previous, value].flat();
}

export function queryString(query: QueryValues): string {
  const params = new URLSearchParams();
  for (const [name, values] of Object.entries(query)) for (const value of [values].flat()) params.append(name, value);
  return params.toString();
}

export function requestUrl(baseUrl: string, pathname: string, query: QueryValues): string {
  const search = queryString(query);
  return `${baseUrl}/${pathname}${search ? `?${search}` : ''}`;
}
