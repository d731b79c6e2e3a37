import { isObject, type JsonObject } from '../../vocabulary/json.js';
import type { Rule } from './policy.js';

/**
 * Builds a value from a rule, reading from the input only what the rule names. Nothing the rule does not list is
 * ever looked at, so no unknown field, extension, contained resource or narrative can be carried along.
 * Returns undefined when nothing conforming is left.
 */
export function project(value: unknown, rule: Rule): unknown {
  switch (rule.kind) {
    case 'fixed':
      return structuredClone(rule.value);
    case 'primitive':
      return rule.accepts(value) ? value : undefined;
    case 'list':
      return Array.isArray(value) ? projectList(value, rule.items, rule.max) : undefined;
    case 'object':
      return isObject(value) ? projectObject(value, rule.elements, rule.required) : undefined;
  }
}

function projectList(values: unknown[], items: Rule, max: number): unknown[] | undefined {
  const result: unknown[] = [];
  for (const value of values) {
    if (result.length === max) break;
    const item = project(value, items);
    if (item !== undefined) result.push(item);
  }
  return result.length > 0 ? result : undefined;
}

function projectObject(value: JsonObject, elements: [string, Rule][], required: string[][]): JsonObject | undefined {
  const result: JsonObject = {};
  let copied = false;
  for (const [name, rule] of elements) {
    const item = rule.kind === 'fixed' ? project(undefined, rule) : Object.hasOwn(value, name) ? project(value[name], rule) : undefined;
    if (item === undefined) continue;
    result[name] = item;
    copied ||= rule.kind !== 'fixed';
  }
  const complete = required.every((alternatives) => alternatives.some((name) => name in result));
  return copied && complete ? result : undefined;
}
