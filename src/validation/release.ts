import { OperationOutcomeError } from '../fhir/outcome.js';
import { isResourceType, typeInfo } from '../fhir/convert/model.js';
import { FHIR_VERSIONS, type FhirVersion, type Resource } from '../fhir/version.js';
import { asList, isObject, type JsonObject } from '../vocabulary/json.js';
import { parseResource } from './source.js';
import { declaredProfiles } from './values.js';

/**
 * Which FHIR release a file is written in, told from its content as a vendor's tools would: an XML file that reads
 * as one release only, a declared profile that only one release knows, or elements (or a resource type) that only
 * one release defines. Never from how many errors each release finds: an invalid R4 resource is still R4.
 */
export interface ReleaseFinding {
  /** Undefined when the content fits both releases (or neither). */
  version?: FhirVersion;
  /** Why, in words: `its declared profile ... is STU3`. */
  reason: string;
  /** The file read as each release that could read it. */
  readAs: Partial<Record<FhirVersion, Resource>>;
  /** Why a release could not read it (XML the release's model does not have, JSON that does not parse). */
  unreadable: Partial<Record<FhirVersion, OperationOutcomeError>>;
}

const RELEASE_NAME: Record<FhirVersion, string> = { r4: 'R4', stu3: 'STU3' };

export function detectRelease(text: string, knowsProfile: (version: FhirVersion, url: string) => boolean): ReleaseFinding {
  const readAs: ReleaseFinding['readAs'] = {};
  const unreadable: ReleaseFinding['unreadable'] = {};
  for (const version of FHIR_VERSIONS) {
    try {
      readAs[version] = parseResource(text, version);
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      unreadable[version] = error;
    }
  }
  const finding = (version: FhirVersion | undefined, reason: string): ReleaseFinding => ({ version, reason, readAs, unreadable });
  const readable = FHIR_VERSIONS.filter((version) => readAs[version]);
  if (readable.length === 0) return finding(undefined, 'it cannot be read as FHIR');
  if (readable.length === 1) {
    const [only] = readable;
    const other = FHIR_VERSIONS.find((version) => version !== only)!;
    return finding(only, `it reads only as ${RELEASE_NAME[only]} (as ${RELEASE_NAME[other]}: ${unreadable[other]!.outcome.issue[0]?.details?.text ?? 'unreadable'})`);
  }
  const resource = readAs[readable[0]]!;
  for (const url of declaredProfiles(resource)) {
    const knownBy = FHIR_VERSIONS.filter((version) => knowsProfile(version, url));
    if (knownBy.length === 1) return finding(knownBy[0], `its declared profile ${url} is a ${RELEASE_NAME[knownBy[0]]} profile`);
  }
  const outside = Object.fromEntries(FHIR_VERSIONS.map((version) => [version, firstUnknown(version, readAs[version]!)])) as Record<FhirVersion, string | undefined>;
  const fits = FHIR_VERSIONS.filter((version) => outside[version] === undefined);
  if (fits.length === 1) {
    const other = FHIR_VERSIONS.find((version) => version !== fits[0])!;
    return finding(fits[0], `${outside[other]} is ${RELEASE_NAME[fits[0]]} only`);
  }
  return finding(undefined, fits.length ? 'its elements exist in both releases' : `it uses elements of neither release (${outside.r4}, ${outside.stu3})`);
}

/** The first element (as a FHIRPath-like path) or resource type the release does not define, if any. */
function firstUnknown(version: FhirVersion, resource: unknown): string | undefined {
  if (!isObject(resource) || typeof resource.resourceType !== 'string') return 'resourceType';
  if (!isResourceType(version, resource.resourceType)) return `resource type ${resource.resourceType}`;
  return firstUnknownElement(version, resource, resource.resourceType, resource.resourceType);
}

function firstUnknownElement(version: FhirVersion, value: JsonObject, typePath: string, at: string): string | undefined {
  const info = typeInfo(version, typePath);
  if (!info) return at;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'resourceType' || key === 'fhir_comments') continue;
    const element = info.elements.get(key.startsWith('_') ? key.slice(1) : key);
    if (!element) return `${at}.${key}`;
    if (key.startsWith('_') || element.kind === 'primitive') continue;
    for (const item of asList(child)) {
      if (!isObject(item)) continue;
      const found = element.kind === 'resource' ? firstUnknown(version, item) : firstUnknownElement(version, item, element.path, `${at}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

export const releaseName = (version: FhirVersion): string => RELEASE_NAME[version];
