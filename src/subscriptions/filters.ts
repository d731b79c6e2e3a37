import { splitValues, tokenQuery, type TokenQuery } from '../fhir/search/query-values.js';
import type { SubscriptionTopic } from './topics.js';

/**
 * Topic filters (`backport-filter-criteria`): search-style `[Type?]name=value[,value]` strings whose names are the
 * topic's `canFilterBy` parameters. Values are tokens (`code`, `system|code`, `|code`, `system|`): values of one
 * parameter are OR-ed, parameters and filter strings AND-ed, as the IG describes.
 */
export interface TokenValue {
  system?: string;
  code: string;
}

/** What an event can be filtered on: the values of each of its topic's filter parameters. */
export type FilterValues = Readonly<Record<string, readonly TokenValue[]>>;

export interface TopicFilter {
  parameter: string;
  values: TokenQuery[];
}

/** The filters one criteria string states, or why it cannot be used with the topic. */
export function parseFilterCriteria(criteria: string, topic: SubscriptionTopic): TopicFilter[] | { problem: string } {
  const question = criteria.indexOf('?');
  const resourceType = question === -1 ? undefined : criteria.slice(0, question);
  if (resourceType !== undefined && resourceType !== topic.resourceType) {
    return { problem: `filter '${criteria}' names ${resourceType}; topic ${topic.url} filters ${topic.resourceType}` };
  }
  const filters: TopicFilter[] = [];
  for (const [name, value] of new URLSearchParams(criteria.slice(question + 1))) {
    if (!topic.filterParameters.includes(name)) {
      return { problem: `filter '${criteria}': '${name}' is not a filter of topic ${topic.url} (${topic.filterParameters.join(', ')})` };
    }
    if (value === '') return { problem: `filter '${criteria}': '${name}' has no value` };
    filters.push({ parameter: name, values: splitValues(value).map(tokenQuery) });
  }
  if (filters.length === 0) return { problem: `filter '${criteria}' states no filter` };
  return filters;
}

export function matchesFilters(filters: readonly TopicFilter[], values: FilterValues): boolean {
  return filters.every((filter) => filter.values.some((query) => (values[filter.parameter] ?? []).some((value) => matchesToken(query, value))));
}

function matchesToken(query: TokenQuery, value: TokenValue): boolean {
  if (query.code !== undefined && query.code !== value.code) return false;
  if (query.system === undefined) return true;
  return query.system === '' ? value.system === undefined : query.system === value.system;
}
