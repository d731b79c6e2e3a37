import type { StructureDefinition, TypeRef } from './definitions.js';
import { CORE_PREFIX } from './definitions.js';

type Json = Record<string, unknown>;

/** R4 types that STU3 does not have, as the HL7 extensions package's STU3 edition renders them. */
const STU3_TYPE_OF: Record<string, string> = { canonical: 'uri', url: 'uri' };

/**
 * HL7's own extensions (`http://hl7.org/fhir/StructureDefinition/…`) are no longer defined by the core
 * specification of a release but by the HL7 extensions package, whose STU3 edition (hl7.fhir.uv.extensions.r3,
 * what the HL7 validator loads) is derived from the current definitions. That package is not available here; the
 * R4 definitions are the nearest current ones. So an STU3 HL7 extension keeps only the value types that its R4
 * definition also allows (canonical and url read as uri): R4 replaced `Reference(ValueSet)` by `canonical`, and
 * the package's STU3 edition allows a `uri` there, not a Reference. It never allows what the STU3 definition
 * does not, and a definition R4 does not have, or whose types would all go, is kept as it is.
 */
export function currentValueTypes(bundle: Json): Map<string, Set<string>> {
  const types = new Map<string, Set<string>>();
  for (const entry of (bundle.entry as Json[] | undefined) ?? []) {
    const resource = entry.resource as Json | undefined;
    if (resource?.resourceType !== 'StructureDefinition' || typeof resource.url !== 'string' || !resource.url.startsWith(CORE_PREFIX)) continue;
    const elements = ((resource.snapshot as Json | undefined)?.element as Json[] | undefined) ?? [];
    const value = elements.find((element) => element.path === 'Extension.value[x]' && element.max !== '0');
    if (!value || !Array.isArray(value.type)) continue;
    types.set(resource.url, new Set((value.type as Json[]).map((type) => STU3_TYPE_OF[String(type.code)] ?? String(type.code))));
  }
  return types;
}

/** Narrows an STU3 HL7 extension's `Extension.value[x]` to the types its current definition allows (see above). */
export function narrowToCurrent(definition: StructureDefinition, current: ReadonlyMap<string, Set<string>>): void {
  const allowed = current.get(definition.url);
  if (!allowed) return;
  for (const element of [...(definition.snapshot ?? []), ...(definition.differential ?? [])]) {
    if (element.path !== 'Extension.value[x]' || !element.types) continue;
    const kept: TypeRef[] = element.types.filter((type) => allowed.has(type.code));
    if (kept.length > 0) element.types = kept;
  }
}
