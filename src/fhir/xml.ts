import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { XMLValidator } from 'fast-xml-parser';
import fhir from 'fhir';
import parseConformance from 'fhir/parseConformance.js';
import type { ParseConformance } from 'fhir/parseConformance.js';
import { badRequest, OperationOutcomeError } from './outcome.js';
import type { FhirVersion, Resource } from './version.js';

/**
 * FHIR XML ↔ JSON through FHIR.js, loaded with the structure definitions of the requested release
 * (R4 ships cached inside FHIR.js; STU3 comes from the official 3.0.1 definitions in the `fhir-stu3` package).
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

/**
 * FHIR.js's definitions of a release, shared with the STU3↔R4 converter: its element model (names, types,
 * cardinality) and, for STU3, the StructureDefinitions it was built from.
 */
export function definitionParser(version: FhirVersion): ParseConformance {
  return converter(version).parser;
}

/** FHIR.js parses leniently, so well-formedness is checked first. FHIR forbids DTDs; refusing them up front also rules out entity-expansion attacks. */
const FORBIDDEN_XML = /<!DOCTYPE|<!ENTITY/i;
/** Processing instructions (the XML declaration too) and comments, which may stand before and after the root element. */
const MISC_MARKUP = [
  ['<?', '?>'],
  ['<!--', '-->'],
] as const;

/** The document without what stands around its root element (a linear scan: no regular expression to backtrack). */
function rootElement(xml: string): string {
  let start = 0;
  let end = xml.length;
  for (let moved = true; moved; ) {
    moved = false;
    while (start < end && /\s/.test(xml[start])) start++;
    while (end > start && /\s/.test(xml[end - 1])) end--;
    for (const [open, close] of MISC_MARKUP) {
      const stop = xml.startsWith(open, start) ? xml.indexOf(close, start + open.length) : -1;
      if (stop >= 0) [start, moved] = [stop + close.length, true];
      const begin = xml.endsWith(close, end) ? xml.lastIndexOf(open, end - close.length) : -1;
      if (begin >= start) [end, moved] = [begin, true];
    }
  }
  return xml.slice(start, end);
}

export function parseXml(version: FhirVersion, xml: string): Resource {
  if (FORBIDDEN_XML.test(xml)) throw new OperationOutcomeError(badRequest('XML with a DOCTYPE or ENTITY declaration is not allowed'));
  const wellFormed = XMLValidator.validate(xml);
  if (wellFormed !== true) {
    const { msg, line, col } = wellFormed.err;
    throw new OperationOutcomeError(badRequest(`Malformed XML at line ${line}, column ${col}: ${msg}`));
  }
  let parsed: { resourceType?: unknown } | undefined;
  try {
    // xmlToObj leaves decimals as strings; xmlToJson writes them as the JSON numbers FHIR JSON requires, but only
    // accepts a document whose one top-level node is the root element.
    const json: string | undefined = converter(version).xmlToJson(rootElement(xml));
    parsed = json === undefined ? undefined : JSON.parse(json);
  } catch (error) {
    throw new OperationOutcomeError(badRequest(`Malformed FHIR XML: ${(error as Error).message}`));
  }
  if (!parsed || typeof parsed.resourceType !== 'string') {
    throw new OperationOutcomeError(badRequest('XML does not hold a FHIR resource in the http://hl7.org/fhir namespace'));
  }
  return parsed as Resource;
}

export function toXml(version: FhirVersion, resource: Resource): string {
  return converter(version).objToXml(resource);
}
