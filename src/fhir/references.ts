/**
 * Literal references between the resources of one FHIR base. Only relative literal references (`Type/id`) are
 * followed: contained (`#id`), absolute and logical (identifier-only) references stay as they are.
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

export const keyOf = (resource: { resourceType: string; id?: string }) => `${resource.resourceType}/${resource.id}`;

/** Every relative reference anywhere in the resource (extensions included), each once. */
export function relativeReferences(resource: object): string[] {
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
