import { compact, type Json } from './json.js';
import { isObject } from '../../vocabulary/json.js';

/**
 * R4 lets many elements point at a PractitionerRole where STU3 allows a Practitioner only. Nictiz STU3 profiles
 * carry the role in this extension on the Reference, so a reference to a PractitionerRole becomes a Reference
 * holding just that extension (and the display), and such a Reference becomes the plain reference again in R4.
 */
export const PRACTITIONERROLE_REFERENCE = 'http://nictiz.nl/fhir/StructureDefinition/practitionerrole-reference';

/** The resource type a Reference points at, from its R4 `type` or its literal reference; undefined when it does not say. */
export function referencedType(reference: unknown): string | undefined {
  if (!isObject(reference)) return undefined;
  if (typeof reference.type === 'string') return reference.type.slice(reference.type.lastIndexOf('/') + 1);
  if (typeof reference.reference !== 'string') return undefined;
  return /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+(?:\/_history\/[^/]+)?$/.exec(reference.reference)?.[1];
}

/** A STU3 Reference standing in for `role`, a reference to a PractitionerRole already written in STU3 datatypes. */
export function practitionerRoleStandIn(role: Json): Json {
  return compact({ extension: [{ url: PRACTITIONERROLE_REFERENCE, valueReference: role }], display: role.display });
}

/** The PractitionerRole reference a STU3 stand-in holds, or undefined when `reference` is no stand-in. */
export function standInRole(reference: unknown): Json | undefined {
  if (!isObject(reference) || !Array.isArray(reference.extension) || reference.extension.length !== 1) return undefined;
  const [extension] = reference.extension as unknown[];
  if (!isObject(extension) || extension.url !== PRACTITIONERROLE_REFERENCE || !isObject(extension.valueReference)) return undefined;
  const role = extension.valueReference;
  const others = Object.keys(reference).filter((key) => key !== 'extension' && key !== 'display');
  return others.length === 0 && reference.display === role.display ? role : undefined;
}
