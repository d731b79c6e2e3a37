import { randomUUID } from 'node:crypto';

/**
 * A fresh resource id: a UUID version 7 (RFC 9562), whose first 48 bits are the creation time in milliseconds and
 * the other 74 random. Ids made one after another sort together, so a create adds to the end of the resource key
 * index instead of a random page of it: one page for a whole batch to write at commit instead of one per resource,
 * and the page being written stays in the cache however large the store grows.
 */
export function newResourceId(now = Date.now()): string {
  const random = randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
