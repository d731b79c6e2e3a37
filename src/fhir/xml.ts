import { DEFAULT_LIMITS } from '../config/config.js';
import { readFhirXml, type XmlReadLimits } from './xml-reader.js';
import { writeFhirXml } from './xml-writer.js';
import type { FhirVersion, Resource } from './version.js';

/**
 * FHIR XML ↔ JSON by the gateway's own reader and writer, both driven by the release's element model: the reader
 * refuses what it cannot represent instead of dropping it, the writer keeps the narrative as it is held.
 */
export { definitionParser } from './fhirjs.js';

const DEFAULT_READ_LIMITS: XmlReadLimits = { maxDepth: DEFAULT_LIMITS.jsonDepth };

export function parseXml(version: FhirVersion, xml: string, limits: XmlReadLimits = DEFAULT_READ_LIMITS): Resource {
  return readFhirXml(version, xml, limits);
}

export function toXml(version: FhirVersion, resource: Resource): string {
  return writeFhirXml(version, resource);
}
