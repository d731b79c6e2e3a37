import type { FhirVersion } from '../fhir/version.js';
import type { StructureTrees } from './element-tree.js';
import { enableWhenProblems } from './questionnaire.js';
import type { Registry } from './registry.js';
import { searchParameterProblems } from './search-parameters.js';
import { differentialPathProblems, typeProfileProblems } from './structure-definition-rules.js';

type Json = Record<string, unknown>;

/** A rule of the HL7 validator on a conformance resource that is not an invariant: what is wrong, and where below the resource. */
export interface ConformanceProblem {
  at?: string;
  text: string;
}

/** The rules on StructureDefinitions, CapabilityStatements, SearchParameters and Questionnaires (nothing for other resources). */
export function conformanceProblems(version: FhirVersion, registry: Registry, trees: StructureTrees, resource: Json): ConformanceProblem[] {
  switch (resource.resourceType) {
    case 'StructureDefinition':
      return [...typeProfileProblems(registry, resource), ...differentialPathProblems(trees, resource)];
    case 'CapabilityStatement':
    case 'SearchParameter':
      return searchParameterProblems(version, resource);
    case 'Questionnaire':
      return enableWhenProblems(resource);
    default:
      return [];
  }
}
