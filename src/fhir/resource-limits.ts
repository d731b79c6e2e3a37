import type { Limits } from '../config/config.js';
import { OperationOutcomeError, tooLarge, unprocessable } from './outcome.js';
import type { Resource } from './version.js';

/** What one resource written may hold (configuration `limits`). */
export type ResourceLimits = Pick<Limits, 'resourceBytes' | 'resourceElements'>;

/**
 * Refuses a resource over the write limits, naming the limit: more than `resourceBytes` of JSON (413), or more than
 * `resourceElements` values, objects, arrays and primitives alike (422). `json` is the resource as it would be stored.
 */
export function checkResourceLimits(resource: Resource, json: string, limits: ResourceLimits): void {
  const bytes = Buffer.byteLength(json);
  if (bytes > limits.resourceBytes) {
    throw new OperationOutcomeError(tooLarge(`The ${resource.resourceType} is ${bytes} bytes of JSON: it exceeds limits.resourceBytes (${limits.resourceBytes})`));
  }
  if (holdsMoreValuesThan(resource, limits.resourceElements)) {
    const text = `The ${resource.resourceType} holds more than ${limits.resourceElements} values: it exceeds limits.resourceElements (${limits.resourceElements})`;
    throw new OperationOutcomeError(unprocessable(text, resource.resourceType));
  }
}

/** Counts the values in `value` (itself included) without recursion, and only until there are more than `limit`. */
function holdsMoreValuesThan(value: unknown, limit: number): boolean {
  const unvisited: unknown[] = [value];
  for (let count = 1; unvisited.length > 0; count++) {
    if (count > limit) return true;
    const next = unvisited.pop();
    if (typeof next === 'object' && next !== null) for (const child of Object.values(next)) unvisited.push(child);
  }
  return false;
}
