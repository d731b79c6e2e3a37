import type { ParsedProperty } from 'fhir/model/parsed-property.js';
import type { FhirVersion } from '../version.js';
import { definitionParser } from '../fhirjs.js';

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
  /** For a Reference, the resource types it may point at, where the release limits them and the model knows it. */
  targets?: ReadonlySet<string>;
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

export function isResourceType(version: FhirVersion, type: string): boolean {
  return definitionParser(version).parsedStructureDefinitions[type]?._kind === 'resource';
}

function buildTypeInfo(version: FhirVersion, path: string): TypeInfo | undefined {
  const [root, ...steps] = path.split('.');
  let properties = definitionParser(version).parsedStructureDefinitions[root]?._properties;
  for (const step of steps) properties = properties?.find((property) => property._name === step)?._properties;
  if (!properties) return undefined;
  const elements = new Map<string, ElementInfo>();
  for (const property of properties) {
    if (!property._name.startsWith('_')) elements.set(property._name, elementInfo(version, property, path));
  }
  const required = [...elements.values()].filter((element) => element.required && !element.choice);
  const order = new Map(properties.map((property, index) => [property._name, index]));
  order.set('resourceType', -1);
  return { path, elements, order, required };
}

function elementInfo(version: FhirVersion, property: ParsedProperty, parentPath: string): ElementInfo {
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
  if (type === 'Reference') info.targets = referenceTargets(version, property, `${parentPath}.${info.choice ? `${info.choice}[x]` : info.name}`);
  return info;
}

/**
 * FHIR.js keeps only the first type's target profiles: complete for R4 (one Reference type listing all targets)
 * where it keeps them at all, never complete for STU3 (one Reference type per target). STU3 targets therefore come
 * from the StructureDefinitions themselves.
 */
function referenceTargets(version: FhirVersion, property: ParsedProperty, path: string): ReadonlySet<string> | undefined {
  const profiles = version === 'stu3' ? stu3ReferenceTargets().get(path) : toProfiles(property._targetProfiles);
  const types = new Set((profiles ?? []).map((profile) => profile.slice(profile.lastIndexOf('/') + 1)));
  return types.size && !types.has('Resource') ? types : undefined;
}

function toProfiles(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((profile): profile is string => typeof profile === 'string');
}

interface SnapshotElement {
  path: string;
  type?: { code?: string; targetProfile?: unknown }[];
}

let stu3Targets: Map<string, string[]> | undefined;

/** Target profiles of every Reference element in the STU3 base definitions, by element path (`Observation.value[x]`). */
function stu3ReferenceTargets(): Map<string, string[]> {
  if (!stu3Targets) {
    stu3Targets = new Map();
    const definitions = definitionParser('stu3').structureDefinitions as { derivation?: string; snapshot?: { element?: SnapshotElement[] } }[];
    for (const definition of definitions.filter((d) => d.derivation !== 'constraint')) {
      for (const element of definition.snapshot?.element ?? []) {
        const profiles = (element.type ?? []).filter((t) => t.code === 'Reference').flatMap((t) => toProfiles(t.targetProfile));
        if (profiles.length) stu3Targets.set(element.path, profiles);
      }
    }
  }
  return stu3Targets;
}
