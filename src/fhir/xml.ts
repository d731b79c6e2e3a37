import { DEFAULT_LIMITS } from '../config/config.js';
import { converter } from './fhirjs.js';
import { readFhirXml, type XmlReadLimits } from './xml-reader.js';
import type { FhirVersion, Resource } from './version.js';

/**
 * FHIR XML ↔ JSON: read by the gateway's own reader (xml-reader.ts), which refuses what it cannot represent
 * instead of dropping it; written by FHIR.js.
 */
export { definitionParser } from './fhirjs.js';

const DEFAULT_READ_LIMITS: XmlReadLimits = { maxDepth: DEFAULT_LIMITS.jsonDepth };

export function parseXml(version: FhirVersion, xml: string, limits: XmlReadLimits = DEFAULT_READ_LIMITS): Resource {
  return readFhirXml(version, xml, limits);
}

export function toXml(version: FhirVersion, resource: Resource): string {
  return converter(version).objToXml(resource);
}
