import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { parseXml } from '../fhir/xml.js';

export type Format = 'json' | 'xml';

/** JSON or XML, told apart by the first character that is not whitespace (a byte order mark is dropped). */
export function detectFormat(text: string): Format {
  return text.replace(/^\uFEFF/, '').trimStart().startsWith('<') ? 'xml' : 'json';
}

/**
 * A resource from the text of a file or message, in either format. Unparseable text throws an
 * OperationOutcomeError (bad-request) that says where it broke.
 */
export function parseResource(text: string, version: FhirVersion): Resource {
  const content = text.replace(/^\uFEFF/, '');
  if (detectFormat(content) === 'xml') return parseXml(version, content);
  try {
    return JSON.parse(content) as Resource;
  } catch (error) {
    throw new OperationOutcomeError(badRequest(`Error parsing JSON: ${(error as Error).message}`));
  }
}
