import { asList, isObject } from '../vocabulary/json.js';
import type { StructureDefinition } from './definitions.js';
import type { Registry } from './registry.js';
import type { SearchParameterProblem } from './search-parameters.js';

type Json = Record<string, unknown>;

/**
 * The HL7 validator's rule on a StructureDefinition's type profiles: the profile on a type must be of that type.
 * Its base type (the specialization it constrains) is the type, or reaches it through abstract ancestors only
 * (`Element`, `DomainResource`): `Count` on a Quantity element is wrong, `SimpleQuantity` is right. A profile
 * not known here is not judged.
 */
export function typeProfileProblems(registry: Registry, definition: Json): SearchParameterProblem[] {
  const problems: SearchParameterProblem[] = [];
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
