import { isObject } from '../vocabulary/json.js';
import { isReference, type Resource } from '../fhir/version.js';

/**
 * References between the resources of a transfer. Only relative literal references (`Type/id`) are followed and
 * shared: contained (`#id`), absolute and logical (identifier-only) references stay as they are.
 */
const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

export interface ResourceKey {
  type: string;
  id: string;
}

export function parseReference(reference: unknown): ResourceKey | undefined {
  if (typeof reference !== 'string') return undefined;
  const match = RELATIVE_REFERENCE.exec(reference);
  return match ? { type: match[1], id: match[2] } : undefined;
}

/** The literal reference (`reference`) of a Reference element, if it has one. */
export function literalReference(value: unknown): string | undefined {
  return isReference(value) && typeof value.reference === 'string' ? value.reference : undefined;
}

export const keyOf = (resource: { resourceType: string; id?: string }) => `${resource.resourceType}/${resource.id}`;

/** Every relative reference anywhere in the resource (extensions included), each once. */
export function relativeReferences(resource: Resource): string[] {
  const found = new Set<string>();
  collectReferences(resource, found);
  return [...found];
}

function collectReferences(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectReferences(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'reference' && typeof item === 'string' && parseReference(item)) found.add(item);
      else collectReferences(item, found);
    }
  }
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
