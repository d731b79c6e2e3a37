import type { ParsedProperty } from 'fhir/model/parsed-property.js';
import type { FhirVersion } from '../version.js';
import { structureModel } from '../xml.js';

/**
 * The element model the converter walks: for a type or backbone path ('Task', 'Task.input', 'Reference') of one
 * release, its elements by JSON name (choice types expanded, e.g. `valueQuantity`), from FHIR.js's parsed
 * StructureDefinitions.
 */
export type ElementKind = 'primitive' | 'complex' | 'resource';

export interface ElementInfo {
  /** JSON name: `status`, `valueQuantity`. */
  name: string;
  /** For a choice element, its name without `[x]`: `value`. */
  choice?: string;
  /** FHIR type code: `code`, `Reference`, `BackboneElement`. */
  type: string;
  kind: ElementKind;
  /** Where the element's own children are defined: a datatype (`Reference`) or a backbone path (`Task.input`). */
  path: string;
  multiple: boolean;
  required: boolean;
}

export interface TypeInfo {
  path: string;
  elements: ReadonlyMap<string, ElementInfo>;
  /** Position of each JSON name (with its `_` sibling; resourceType first) in the definition, to write elements in the usual order. */
  order: ReadonlyMap<string, number>;
  /** Non-choice elements with a minimum cardinality of 1. */
  required: readonly ElementInfo[];
}

const cache: Record<FhirVersion, Map<string, TypeInfo | undefined>> = { r4: new Map(), stu3: new Map() };

export function typeInfo(version: FhirVersion, path: string): TypeInfo | undefined {
  const known = cache[version];
  if (!known.has(path)) known.set(path, buildTypeInfo(version, path));
  return known.get(path);
}

export function hasType(version: FhirVersion, type: string): boolean {
  return structureModel(version)[type] !== undefined;
}

function buildTypeInfo(version: FhirVersion, path: string): TypeInfo | undefined {
  const [root, ...steps] = path.split('.');
  let properties = structureModel(version)[root]?._properties;
  for (const step of steps) properties = properties?.find((property) => property._name === step)?._properties;
  if (!properties) return undefined;
  const elements = new Map<string, ElementInfo>();
  for (const property of properties) {
    if (!property._name.startsWith('_')) elements.set(property._name, elementInfo(property, path));
  }
  const required = [...elements.values()].filter((element) => element.required && !element.choice);
  const order = new Map(properties.map((property, index) => [property._name, index]));
  order.set('resourceType', -1);
  return { path, elements, order, required };
}

function elementInfo(property: ParsedProperty, parentPath: string): ElementInfo {
  const type = property._type;
  const info: ElementInfo = {
    name: property._name,
    type,
    kind: 'complex',
    path: type,
    multiple: property._multiple === true,
    required: property._required === true,
  };
  if (property._choice) info.choice = property._choice.replace('[x]', '');
  if (type.startsWith('#')) info.path = type.slice(1);
  else if (type === 'Resource') info.kind = 'resource';
  else if (/^[a-z]/.test(type)) info.kind = 'primitive';
  else if (property._properties?.length) info.path = `${parentPath}.${property._name}`;
  return info;
}
