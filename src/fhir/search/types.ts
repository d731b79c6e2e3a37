import type { Resource } from '../version.js';

/** What a FHIR search asks for and what it answers, as the search parser writes it and the store reads it. */

/** One parsed search parameter: `code[:modifier]=v1,v2` (values are OR-ed; separate params are AND-ed). */
export interface SearchParam {
  code: string;
  modifier?: string;
  /** Raw values, prefix (eq/ne/gt/lt/ge/le/sa/eb/ap) still attached for dates and numbers. */
  values: string[];
}

export interface SortRule {
  code: string;
  descending: boolean;
}

export interface SearchRequest {
  resourceType: string;
  params: SearchParam[];
  count: number;
  offset: number;
  sort: SortRule[];
  /** `_include` targets as `Type:param[:TargetType]`. */
  include: string[];
  revinclude: string[];
  total: 'none' | 'accurate';
}

export interface SearchResult {
  resources: Resource[];
  /** Resources pulled in by _include/_revinclude (search mode "include"). */
  included: Resource[];
  total?: number;
  /** True when another page exists after this one. */
  hasMore: boolean;
}
