import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import stu3Model from 'fhirpath/fhir-context/stu3';
import type { Model } from 'fhirpath';
import type { FhirVersion, Resource } from '../version.js';
import { expressionsFor } from './definitions.js';

/** Pulls the values a search parameter indexes out of a resource. Compiled once per parameter and resource type. */
export type Extractor = (resource: Resource) => unknown[];

export const FHIRPATH_MODELS: Record<FhirVersion, Model> = { r4: r4Model, stu3: stu3Model };

export function compileExpression(version: FhirVersion, resourceType: string, expression: string): Extractor {
  const parts = expressionsFor(resourceType, expression).map((part) => compilePart(version, part));
  if (parts.length === 1) return parts[0];
  return (resource) => parts.flatMap((part) => part(resource));
}

const RESOLVE_FILTER = /^(.*)\.where\(resolve\(\) is ([A-Za-z]+)\)$/;
/** `Type.a.b`, optionally narrowed to one choice type: `Type.a as dateTime`, `(Type.a as dateTime)`, `Type.a.as(Age)`. */
const SIMPLE_PATH = /^(\(?)([A-Za-z]+)((?:\.[A-Za-z]+)+)(?:\s+as\s+([A-Za-z]+)|\.as\(([A-Za-z]+)\))?(\)?)$/;
/** `path.where(name = 'literal')`, e.g. `Patient.telecom.where(system='email')`. */
const WHERE_EQUALS = /^(.*)\.where\(([A-Za-z]+)\s*=\s*'([^'\\]*)'\)$/;
const EXISTS = /^(.*)\.exists\(\)$/;
/** `path.is(type)` on a choice element, e.g. `Condition.abatement.is(Age)`. */
const IS_TYPE = /^(.*)\.is\(([A-Za-z]+)\)$/;

function compilePart(version: FhirVersion, part: string): Extractor {
  // resolve() needs the referenced resource; the reference's own type says the same without fetching it.
  const resolveFilter = RESOLVE_FILTER.exec(part);
  if (resolveFilter) {
    const inner = compilePart(version, resolveFilter[1]);
    const targetType = resolveFilter[2];
    return (resource) => inner(resource).filter((value) => referencedType(value) === targetType);
  }
  return nativeExtractor(version, part) ?? compileFhirPath(version, part);
}

function compileFhirPath(version: FhirVersion, expression: string): Extractor {
  const evaluate = fhirpath.compile(expression, FHIRPATH_MODELS[version]);
  return (resource) => {
    try {
      return evaluate(resource) as unknown[];
    } catch {
      // Odd content must never fail a write; the resource is just not indexed for this parameter.
      return [];
    }
  };
}

/**
 * The shapes of expression most search parameters use, evaluated without the FHIRPath engine (about ten times
 * faster): a plain element path, and that path filtered by `where(name = 'literal')`, tested with `exists()`, or
 * with `is(type)` on a choice element. Undefined for any other expression. They give what FHIRPath gives (tested
 * against fhirpath.js on the fixtures).
 */
export function nativeExtractor(version: FhirVersion, part: string): Extractor | undefined {
  const where = WHERE_EQUALS.exec(part);
  if (where) {
    const [, path, name, literal] = where;
    const steps = pathSteps(version, path);
    return steps && ((resource) => walk(resource, steps).filter((value) => isObject(value) && value[name] === literal));
  }
  const exists = EXISTS.exec(part);
  if (exists) {
    const steps = pathSteps(version, exists[1]);
    return steps && ((resource) => [walk(resource, steps).length > 0]);
  }
  const typeTest = IS_TYPE.exec(part);
  if (typeTest) return choiceTypeTest(version, typeTest[1], typeTest[2]);
  const steps = pathSteps(version, part);
  return steps && ((resource) => walk(resource, steps));
}

/**
 * The JSON property names a plain element path visits, step by step; a choice element has one name per type
 * (found through the model's list of choice paths), unless the path narrows it to one.
 */
function pathSteps(version: FhirVersion, expression: string): string[][] | undefined {
  const match = SIMPLE_PATH.exec(expression);
  if (!match || match[1].length !== match[6].length) return undefined;
  const [, , resourceType, path, asType, asFunctionType] = match;
  const names = path.slice(1).split('.');
  const narrowedTo = asType ?? asFunctionType;
  const choicePaths = FHIRPATH_MODELS[version].choiceTypePaths;
  return names.map((name, index) => {
    const choices = choicePaths[`${resourceType}.${names.slice(0, index + 1).join('.')}`];
    const isLast = index === names.length - 1;
    if (isLast && narrowedTo !== undefined) return [name + capitalise(narrowedTo)];
    return choices ? choices.map((type) => name + type) : [name];
  });
}

/** `choice.is(type)`: for each value of the choice element, whether it has that type. */
function choiceTypeTest(version: FhirVersion, path: string, type: string): Extractor | undefined {
  const steps = pathSteps(version, path);
  const match = SIMPLE_PATH.exec(path);
  if (!steps || !match || match[4] !== undefined || match[5] !== undefined) return undefined;
  const element = match[3].slice(match[3].lastIndexOf('.') + 1);
  const choices = steps[steps.length - 1];
  const wanted = element + capitalise(type);
  if (choices.length < 2 || !choices.includes(wanted)) return undefined;
  const parents = steps.slice(0, -1);
  return (resource) => {
    const results: boolean[] = [];
    for (const parent of walk(resource, parents)) {
      if (!isObject(parent)) continue;
      for (const name of choices) if (parent[name] !== undefined && parent[name] !== null) results.push(name === wanted);
    }
    return results;
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function walk(resource: Resource, steps: string[][]): unknown[] {
  let values: unknown[] = [resource];
  for (const names of steps) {
    const next: unknown[] = [];
    for (const value of values) {
      if (typeof value !== 'object' || value === null) continue;
      for (const name of names) {
        const child = (value as Record<string, unknown>)[name];
        // One push per item: spreading an array into push's arguments overflows the stack past some 100,000 items.
        for (const item of Array.isArray(child) ? child : [child]) if (item !== null && item !== undefined) next.push(item);
      }
    }
    values = next;
  }
  return values;
}

function capitalise(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** The resource type a Reference points at: from its literal reference (relative or absolute) or `Reference.type`. */
export function referencedType(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { reference, type } = value as { reference?: unknown; type?: unknown };
  if (typeof reference === 'string') {
    const match = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/.exec(reference);
    if (match) return match[1];
  }
  return typeof type === 'string' ? type : undefined;
}
