import { parseJson, assertSafeStructure, type StructureLimits } from '../fhir/json.js';
import { badRequest, notAcceptable, OperationOutcomeError, unsupportedMediaType, type OperationOutcome } from '../fhir/outcome.js';
import { queryValues } from '../rest/query.js';
import type { QueryValues } from '../rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { parseXml, toXml } from '../fhir/xml.js';
import { xmlNestsDeeperThan } from './xml-depth.js';

/** FHIR content negotiation: JSON and XML both ways, chosen by `_format`, then `Accept`; JSON by default. */
export type FhirFormat = 'json' | 'xml';

const MIME_FORMATS: Record<string, FhirFormat> = {
  json: 'json',
  'application/fhir+json': 'json',
  'application/json+fhir': 'json',
  'application/json': 'json',
  'text/json': 'json',
  xml: 'xml',
  'application/fhir+xml': 'xml',
  'application/xml+fhir': 'xml',
  'application/xml': 'xml',
  'text/xml': 'xml',
};

/** Accept ranges that leave the choice to the server. */
const ANY = new Set(['*/*', 'application/*']);

export const CONTENT_TYPES: Record<FhirFormat, string> = {
  json: 'application/fhir+json; charset=utf-8',
  xml: 'application/fhir+xml; charset=utf-8',
};

/** `+` arrives as a space when a client forgets to escape it in `_format=application/fhir+json`. */
const mediaType = (value: string) => value.split(';', 1)[0].trim().toLowerCase().replaceAll(' ', '+');

export function responseFormat(formatParameter: string | undefined, accept: string | undefined): FhirFormat | OperationOutcome {
  if (formatParameter !== undefined) {
    return MIME_FORMATS[mediaType(formatParameter)] ?? notAcceptable(`_format '${formatParameter}' is not supported; use json or xml`);
  }
  if (!accept || accept.trim() === '') return 'json';
  for (const range of acceptRanges(accept)) {
    if (ANY.has(range)) return 'json';
    const format = MIME_FORMATS[range];
    if (format) return format;
  }
  return notAcceptable(`None of the media types in Accept '${accept}' is served; use application/fhir+json or application/fhir+xml`);
}

/** Media ranges by preference (q, then order); q=0 means "not this one". */
function acceptRanges(accept: string): string[] {
  return accept
    .split(',')
    .map((part, order) => {
      const q = /;\s*q=([0-9.]+)/i.exec(part);
      return { range: mediaType(part), quality: q ? Number(q[1]) : 1, order };
    })
    .filter((candidate) => candidate.quality > 0)
    .sort((a, b) => b.quality - a.quality || a.order - b.order)
    .map((candidate) => candidate.range);
}

export type RequestBody = { kind: 'none' } | { kind: 'resource'; resource: unknown } | { kind: 'form'; values: QueryValues };

/**
 * Decodes a request body by its Content-Type: FHIR JSON or XML (checked for depth and forbidden keys before any
 * other code sees it) or, for `_search`, form parameters. A body without a Content-Type is judged by its first byte.
 */
export function parseBody(raw: Buffer | undefined, contentType: string | undefined, version: FhirVersion, limits: StructureLimits): RequestBody {
  if (!raw || raw.length === 0) return { kind: 'none' };
  const text = raw.toString('utf8');
  const type = contentType ? mediaType(contentType) : sniff(text);
  if (type === 'application/x-www-form-urlencoded') return { kind: 'form', values: queryValues(text) };
  const format = MIME_FORMATS[type];
  if (format === 'json') return { kind: 'resource', resource: parseJson(text, limits) };
  if (format === 'xml') {
    if (xmlNestsDeeperThan(text, limits.maxDepth)) {
      throw new OperationOutcomeError(badRequest(`XML elements nested deeper than ${limits.maxDepth} levels are not allowed`));
    }
    const resource = parseXml(version, text, limits);
    assertSafeStructure(resource, limits);
    return { kind: 'resource', resource };
  }
  throw new OperationOutcomeError(unsupportedMediaType(`Content-Type '${contentType}' is not supported; send application/fhir+json or application/fhir+xml`));
}

function sniff(text: string): string {
  const first = text.trimStart()[0];
  return first === '<' ? 'application/fhir+xml' : 'application/fhir+json';
}

export function serialize(resource: Resource, format: FhirFormat, version: FhirVersion, pretty: boolean): string {
  if (format === 'xml') return toXml(version, resource);
  return pretty ? JSON.stringify(resource, null, 2) : JSON.stringify(resource);
}
