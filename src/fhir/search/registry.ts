import type { FhirVersion } from '../version.js';
import { officialSearchParameters, type SearchParameterResource } from './definitions.js';
import { compileExpression, FHIRPATH_MODELS, type Extractor } from './expression.js';
import { isIndexedOfficialParameter } from './indexed.js';

/** The search parameter types the store indexes (composite and special are not supported). */
export type SearchParamType = 'token' | 'string' | 'reference' | 'date' | 'number' | 'quantity' | 'uri';

export interface SearchParameter {
  code: string;
  resourceType: string;
  type: SearchParamType;
  /** Reference targets; empty when the definition names none. */
  target: string[];
  /** The canonical URL of the definition, for CapabilityStatement `searchParam.definition`. */
  url?: string;
  /** How to find the indexed values; absent for the parameters answered from the resource row itself. */
  extract?: Extractor;
}

/** A custom parameter: the fields of a FHIR SearchParameter resource (url, code, base, type, expression, target). */
export type CustomSearchParameter = SearchParameterResource;

const INDEXED_TYPES = new Set<string>(['token', 'string', 'reference', 'date', 'number', 'quantity', 'uri']);

/** `_id` and `_lastUpdated` are columns of the resource row, not index entries. */
export const RESOURCE_ROW_PARAMETERS = new Set(['_id', '_lastUpdated']);

const CODE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Search parameters per release and resource type: the official definitions the type indexes (indexed.ts; compiled
 * the first time a type is used) plus the custom ones other modules register at start-up.
 */
class SearchParameterRegistry {
  private official?: Map<string, SearchParameterResource[]>;
  private readonly custom: CustomSearchParameter[] = [];
  private readonly byType = new Map<string, Map<string, SearchParameter>>();

  constructor(private readonly version: FhirVersion) {}

  parametersOf(resourceType: string): Map<string, SearchParameter> {
    let parameters = this.byType.get(resourceType);
    if (!parameters) {
      parameters = new Map();
      for (const definition of [...this.officialFor(resourceType), ...this.custom.filter((c) => c.base.includes(resourceType))]) {
        const parameter = this.compile(resourceType, definition);
        if (parameter) parameters.set(parameter.code, parameter);
      }
      this.byType.set(resourceType, parameters);
    }
    return parameters;
  }

  register(definition: CustomSearchParameter): void {
    if (!CODE.test(definition.code)) throw new Error(`Search parameter code '${definition.code}' is not a valid code`);
    if (!INDEXED_TYPES.has(definition.type)) throw new Error(`Search parameter type '${definition.type}' is not supported`);
    if (!definition.expression) throw new Error(`Search parameter '${definition.code}' needs an expression`);
    for (const resourceType of definition.base) {
      if (!isResourceType(this.version, resourceType)) throw new Error(`'${resourceType}' is not a ${this.version} resource type`);
      // Compiling now reports a broken expression at registration instead of at the first write.
      const parameter = this.compile(resourceType, definition);
      if (!parameter) throw new Error(`Expression '${definition.expression}' has no part for ${resourceType}`);
      this.byType.get(resourceType)?.set(parameter.code, parameter);
    }
    this.custom.push(definition);
  }

  private officialFor(resourceType: string): SearchParameterResource[] {
    if (!this.official) {
      this.official = new Map();
      for (const definition of officialSearchParameters(this.version)) {
        for (const base of definition.base) this.official.set(base, [...(this.official.get(base) ?? []), definition]);
      }
    }
    return [...(this.official.get('Resource') ?? []), ...(this.official.get(resourceType) ?? [])].filter((definition) =>
      isIndexedOfficialParameter(resourceType, definition.code),
    );
  }

  private compile(resourceType: string, definition: SearchParameterResource): SearchParameter | undefined {
    if (!INDEXED_TYPES.has(definition.type) || !definition.expression) return undefined;
    const parameter: SearchParameter = {
      code: definition.code,
      resourceType,
      type: definition.type as SearchParamType,
      target: definition.target ?? [],
      url: definition.url,
    };
    if (RESOURCE_ROW_PARAMETERS.has(definition.code)) return parameter;
    const extract = compileExpression(this.version, resourceType, definition.expression);
    return { ...parameter, extract };
  }
}

const registries: Record<FhirVersion, SearchParameterRegistry> = {
  r4: new SearchParameterRegistry('r4'),
  stu3: new SearchParameterRegistry('stu3'),
};

export function searchParameter(version: FhirVersion, resourceType: string, code: string): SearchParameter | undefined {
  return registries[version].parametersOf(resourceType).get(code);
}

export function searchParameters(version: FhirVersion, resourceType: string): SearchParameter[] {
  return [...registries[version].parametersOf(resourceType).values()];
}

/**
 * Adds a search parameter (the shape of a FHIR SearchParameter resource: code, base, type, expression, target) to
 * every resource type in `base`. Register at start-up, before resources of those types are written: values are
 * indexed when a resource is written, so resources stored earlier are found only after they are written again.
 * A custom parameter with the code of an official one replaces it. Throws on an invalid definition.
 */
export function registerSearchParameter(version: FhirVersion, definition: CustomSearchParameter): void {
  registries[version].register(definition);
}

/** True for the resource types of the release (the FHIRPath model's types that derive from Resource). */
export function isResourceType(version: FhirVersion, type: string): boolean {
  const parents = FHIRPATH_MODELS[version].type2Parent;
  let current: string | undefined = parents[type];
  while (current !== undefined) {
    if (current === 'Resource') return true;
    current = parents[current];
  }
  return false;
}
