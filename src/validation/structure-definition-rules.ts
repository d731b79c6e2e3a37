import { asList, isObject } from '../vocabulary/json.js';
import type { StructureDefinition } from './definitions.js';
import type { StructureTrees } from './element-tree.js';
import type { Registry } from './registry.js';
import type { ConformanceProblem } from './conformance.js';

type Json = Record<string, unknown>;

/**
 * The HL7 validator's rule on a StructureDefinition's type profiles: the profile on a type must be of that type.
 * Its base type (the specialization it constrains) is the type, or reaches it through abstract ancestors only
 * (`Element`, `DomainResource`): `Count` on a Quantity element is wrong, `SimpleQuantity` is right. A profile
 * not known here is not judged.
 */
export function typeProfileProblems(registry: Registry, definition: Json): ConformanceProblem[] {
  const problems: ConformanceProblem[] = [];
  for (const view of ['differential', 'snapshot'] as const) {
    const elements = isObject(definition[view]) ? asList((definition[view] as Json).element) : [];
    elements.forEach((element, e) => {
      if (!isObject(element)) return;
      asList(element.type).forEach((type, t) => {
        if (!isObject(type) || typeof type.code !== 'string') return;
        const single = typeof type.profile === 'string';
        asList(type.profile).forEach((profile, p) => {
          if (typeof profile !== 'string') return;
          const base = baseType(registry, registry.structure(profile.split('|')[0]));
          if (!base || isInstanceOf(registry, base, type.code as string)) return;
          problems.push({
            at: `${view}.element[${e}].type[${t}].profile${single ? '' : `[${p}]`}`,
            text: `Profile ${profile} is for type ${base.type}, but the ${String(element.path)} element has type ${String(type.code)}`,
          });
        });
      });
    });
  }
  return problems;
}

/** The specialization a profile constrains, following constraint derivations down to it. */
function baseType(registry: Registry, definition: StructureDefinition | undefined): StructureDefinition | undefined {
  let current = definition;
  for (let depth = 0; current?.derivation === 'constraint' && depth < 50; depth++) {
    current = current.baseDefinition ? registry.structure(current.baseDefinition) : undefined;
  }
  return current;
}

function isInstanceOf(registry: Registry, definition: StructureDefinition, code: string): boolean {
  let current: StructureDefinition | undefined = definition;
  for (let depth = 0; current && depth < 50; depth++) {
    if (current.type === code || current.url === code) return true;
    current = current.baseDefinition ? registry.structure(current.baseDefinition) : undefined;
    if (current && !current.abstract && current.kind !== 'logical') return false;
  }
  return false;
}

/**
 * A profile that has only a differential gets its snapshot generated (the HL7 validator does so when it validates
 * one): a differential path that names no element of the base (`Observation.valueBla`) makes that fail.
 */
export function differentialPathProblems(trees: StructureTrees, definition: Json): ConformanceProblem[] {
  const base = definition.baseDefinition;
  if (definition.derivation !== 'constraint' || typeof base !== 'string' || isObject(definition.snapshot) || !isObject(definition.differential)) return [];
  return asList(definition.differential.element)
    .filter(isObject)
    .filter((element) => typeof element.path === 'string' && trees.hasPath(base.split('|')[0], element.path) === false)
    .map((element) => ({ text: `Error generating snapshot: the differential path ${String(element.path)} names no element of the base ${base}` }));
}
