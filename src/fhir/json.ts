import { badRequest, OperationOutcomeError } from './outcome.js';

/**
 * Safe JSON for untrusted FHIR bodies. V8's JSON.parse is iterative (no stack overflow on deep input) and stores a
 * `__proto__` key as an own property (no prototype pollution while parsing), so the text is parsed first and the
 * result checked at once, before any other code touches it: nesting depth and keys that reach into prototypes
 * anywhere in the tree. The same check serves objects decoded from XML.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface StructureLimits {
  /** Deepest allowed nesting of objects and arrays (the top-level object is depth 1). */
  maxDepth: number;
}

export function parseJson(text: string, limits: StructureLimits): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OperationOutcomeError(badRequest(`Malformed JSON: ${(error as Error).message}`));
  }
  assertSafeStructure(value, limits);
  return value;
}

interface Pending {
  value: unknown;
  path: string;
  depth: number;
}

/** Walks the tree without recursion; throws a bad-request outcome whose expression points at the offending element. */
export function assertSafeStructure(root: unknown, limits: StructureLimits): void {
  const stack: Pending[] = [{ value: root, path: rootName(root), depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > limits.maxDepth) {
      throw new OperationOutcomeError(badRequest(`Nesting deeper than ${limits.maxDepth} levels is not allowed`, path));
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(value)) {
      const childPath = `${path}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) throw new OperationOutcomeError(badRequest(`The property name '${key}' is not allowed`, childPath));
      stack.push({ value: (value as Record<string, unknown>)[key], path: childPath, depth: depth + 1 });
    }
  }
}

/** FHIRPath expressions start at the resource type when there is one. */
function rootName(root: unknown): string {
  const type = (root as { resourceType?: unknown } | null)?.resourceType;
  return typeof type === 'string' && /^[A-Z][A-Za-z]{0,63}$/.test(type) ? type : '$this';
}
