import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fhir from 'fhir';
import parseConformance from 'fhir/parseConformance.js';
import type { ParseConformance } from 'fhir/parseConformance.js';
import type { FhirVersion } from './version.js';

/**
 * FHIR.js loaded with the structure definitions of a release (R4 ships cached inside FHIR.js; STU3 comes from the
 * official 3.0.1 definitions in the `fhir-stu3` package), for its parsed element model, which the XML reader and
 * writer and the STU3↔R4 converter share (convert/model.ts).
 */
const require = createRequire(import.meta.url);
const converters = new Map<FhirVersion, InstanceType<typeof fhir.Fhir>>();

function stu3Definitions(): unknown[] {
  const folder = require.resolve('fhir-stu3/package.json').replace(/package\.json$/, 'profiles/stu3/');
  return ['profiles-types.json', 'profiles-resources.json'].map((file) => JSON.parse(readFileSync(folder + file, 'utf8')));
}

function converter(version: FhirVersion): InstanceType<typeof fhir.Fhir> {
  let existing = converters.get(version);
  if (!existing) {
    const parser =
      version === 'r4' ? new parseConformance.ParseConformance(true) : new parseConformance.ParseConformance(false, 'STU3');
    if (version === 'stu3') for (const bundle of stu3Definitions()) parser.parseBundle(bundle);
    existing = new fhir.Fhir(parser);
    converters.set(version, existing);
  }
  return existing;
}

/** A release's element model (names, types, cardinality) and, for STU3, the StructureDefinitions it was built from. */
export function definitionParser(version: FhirVersion): ParseConformance {
  return converter(version).parser;
}
