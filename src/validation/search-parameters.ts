import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FhirVersion } from '../fhir/version.js';
import { asList, isObject } from '../vocabulary/json.js';
import { baseFolder } from './base-definitions.js';
import type { ConformanceProblem } from './conformance.js';

type Json = Record<string, unknown>;

/** What the rules on CapabilityStatements and SearchParameters need of a core SearchParameter. */
interface SearchParameterFacts {
  type: string;
  base: string[];
}

const parameters = new Map<FhirVersion, Map<string, SearchParameterFacts>>();

/** The release's core SearchParameters by url, read on first use (they ship beside the base definitions). */
function coreSearchParameters(version: FhirVersion): Map<string, SearchParameterFacts> {
  let byUrl = parameters.get(version);
  if (!byUrl) {
    byUrl = new Map();
    const bundle = JSON.parse(readFileSync(path.join(baseFolder(version), 'search-parameters.json'), 'utf8')) as Json;
    for (const entry of asList(bundle.entry).filter(isObject)) {
      const resource = entry.resource;
      if (!isObject(resource) || typeof resource.url !== 'string') continue;
      byUrl.set(resource.url, { type: String(resource.type), base: asList(resource.base).map(String) });
    }
    parameters.set(version, byUrl);
  }
  return byUrl;
}

/**
 * The HL7 validator's rules on search parameters: a CapabilityStatement's searchParam has the type of the
 * SearchParameter its `definition` names, and a SearchParameter's bases are among those of the one it is
 * `derivedFrom`. Only the core SearchParameters are known here; others are not judged.
 */
export function searchParameterProblems(version: FhirVersion, resource: Json): ConformanceProblem[] {
  if (resource.resourceType === 'CapabilityStatement') return capabilityProblems(version, resource);
  if (resource.resourceType === 'SearchParameter') return derivationProblems(version, resource);
  return [];
}

function capabilityProblems(version: FhirVersion, statement: Json): ConformanceProblem[] {
  const problems: ConformanceProblem[] = [];
  asList(statement.rest).forEach((rest, r) => {
    if (!isObject(rest)) return;
    asList(rest.resource).forEach((resource, s) => {
      if (!isObject(resource)) return;
      asList(resource.searchParam).forEach((param, p) => {
        if (!isObject(param) || typeof param.definition !== 'string' || typeof param.type !== 'string') return;
        const url = param.definition.split('|')[0];
        const definition = coreSearchParameters(version).get(url);
        if (definition && definition.type !== param.type) {
          problems.push({
            at: `rest[${r}].resource[${s}].searchParam[${p}]`,
            text: `Type mismatch - SearchParameter '${param.definition}' type is ${definition.type}, but type here is ${param.type}`,
          });
        }
      });
    });
  });
  return problems;
}

function derivationProblems(version: FhirVersion, parameter: Json): ConformanceProblem[] {
  if (typeof parameter.derivedFrom !== 'string') return [];
  const url = parameter.derivedFrom.split('|')[0];
  const derivedFrom = coreSearchParameters(version).get(url);
  if (!derivedFrom) return [];
  return asList(parameter.base)
    .map(String)
    .filter((base) => !derivedFrom.base.includes(base))
    .map((base) => ({ text: `The resource type ${base} is not listed as a base in the SearchParameter this is derived from (${url})` }));
}
