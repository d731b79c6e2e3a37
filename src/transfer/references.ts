import { isObject } from '../vocabulary/json.js';
import { isReference, type Resource } from '../fhir/version.js';

/**
 * References between the resources of a transfer. Only relative literal references (`Type/id`) are followed and
 * shared (fhir/references.ts): contained (`#id`), absolute and logical (identifier-only) references stay as they are.
 */
export { keyOf, parseReference, relativeReferences, type ResourceKey } from '../fhir/references.js';

/** The literal reference (`reference`) of a Reference element, if it has one. */
export function literalReference(value: unknown): string | undefined {
  return isReference(value) && typeof value.reference === 'string' ? value.reference : undefined;
}

/** A copy of the resource with every `reference` string replaced by what `change` makes of it. */
export function rewriteReferences<T extends Resource>(resource: T, change: (reference: string) => string): T {
  return visitReferences(structuredClone(resource), change) as T;
}

function visitReferences(value: unknown, change: (reference: string) => string): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = visitReferences(value[i], change);
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      value[key] = key === 'reference' && typeof item === 'string' ? change(item) : visitReferences(item, change);
    }
  }
  return value;
}
