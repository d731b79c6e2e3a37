import { isObject } from '../../vocabulary/json.js';

/** The few JSON operations the converter needs: FHIR JSON objects, element lists and structural equality. */
export type Json = Record<string, unknown>;


export function isEmpty(value: Json): boolean {
  for (const key in value) if (value[key] !== undefined) return false;
  return true;
}

/** The elements `names` of `node`, each with its `_name` sibling (a primitive's id and extensions). */
export function pick(node: Json, names: readonly string[]): Json {
  const slice: Json = {};
  for (const name of names) {
    if (node[name] !== undefined) slice[name] = node[name];
    if (node[`_${name}`] !== undefined) slice[`_${name}`] = node[`_${name}`];
  }
  return slice;
}

/** Structural equality of JSON values; key order does not matter, absent and undefined are the same. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const keysA = Object.keys(a).filter((key) => a[key] !== undefined);
  const keysB = Object.keys(b).filter((key) => b[key] !== undefined);
  return keysA.length === keysB.length && keysA.every((key) => deepEqual(a[key], b[key]));
}

/** `value` without its undefined keys, so that rules can build objects with optional parts in one expression. */
export function compact(value: Json): Json {
  const result: Json = {};
  for (const key in value) if (value[key] !== undefined) result[key] = value[key];
  return result;
}
