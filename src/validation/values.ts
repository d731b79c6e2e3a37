import { asList, isObject } from '../vocabulary/json.js';

/** Comparing instance values with fixed and pattern values, and reading values along a simple path. */

/** Pattern semantics: everything the pattern states is present in the instance (arrays: each pattern item somewhere). */
export function matchesPattern(instance: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    const items = asList(instance);
    return pattern.every((wanted) => items.some((item) => matchesPattern(item, wanted)));
  }
  if (isObject(pattern)) {
    if (Array.isArray(instance)) return instance.some((item) => matchesPattern(item, pattern));
    if (!isObject(instance)) return false;
    for (const key in pattern) if (!matchesPattern(instance[key], pattern[key])) return false;
    return true;
  }
  if (Array.isArray(instance)) return instance.some((item) => item === pattern);
  return instance === pattern;
}

/** Fixed semantics: primitives equal; complex values state exactly the fixed content (ids and extensions aside). */
export function matchesFixed(instance: unknown, fixed: unknown): boolean {
  if (!isObject(fixed) && !Array.isArray(fixed)) return instance === fixed;
  if (!matchesPattern(instance, fixed)) return false;
  if (isObject(fixed) && isObject(instance)) {
    for (const key in instance) if (key !== 'id' && key !== 'extension' && !(key in fixed)) return false;
  }
  return true;
}

/**
 * The values at a dotted path of child names, arrays flattened (`type.coding.code`). A name without a match
 * also tries choice names (`value` finds `valueQuantity`); `extension('url')` picks extensions by url.
 */
export function valuesAt(value: unknown, path: string[]): unknown[] {
  let current = asList(value);
  for (const name of path) {
    const extension = name.charCodeAt(name.length - 1) === 41 ? EXTENSION_STEP.exec(name) : null;
    const next: unknown[] = [];
    for (const item of current) {
      if (!isObject(item)) continue;
      if (extension) {
        for (const found of asList(item[extension[1]])) if (isObject(found) && found.url === extension[2]) next.push(found);
        continue;
      }
      const found = item[name] ?? choiceValue(item, name);
      if (found !== undefined) next.push(...asList(found));
    }
    current = next;
  }
  return current;
}

/** The profiles a resource declares in `meta.profile`. */
export function declaredProfiles(resource: unknown): string[] {
  const meta = isObject(resource) ? resource.meta : undefined;
  return asList(isObject(meta) ? meta.profile : undefined).filter((url): url is string => typeof url === 'string');
}

/** FHIRPath's `extension('url')` step. */
export const EXTENSION_STEP = /^(extension|modifierExtension)\('([^']*)'\)$/;

function choiceValue(item: Record<string, unknown>, stem: string): unknown {
  for (const key in item) {
    const next = key.charCodeAt(stem.length);
    if (next >= 65 && next <= 90 && key.startsWith(stem)) return item[key];
  }
  return undefined;
}

export function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
