import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import stu3Model from 'fhirpath/fhir-context/stu3/index.js';
import type { FhirVersion } from './version.js';

const MODELS = { r4: r4Model, stu3: stu3Model } as const;
const checks = new Map<FhirVersion, (div: string) => unknown[]>();

/**
 * `xml:lang` and `xml:space` are the two attributes of the XML namespace that XHTML and the FHIR narrative rules
 * allow (the HL7 validator accepts them; language sections use them). fhirpath.js's htmlChecks() refuses every
 * prefixed attribute, so these two are taken out before it looks.
 */
const XML_NAMESPACE_ATTRIBUTE = /\s+xml:(?:lang|space)\s*=\s*(?:"[^"<]*"|'[^'<]*')/g;

/** Whether a narrative's div keeps to the XHTML subset FHIR allows: the check behind the invariants txt-1 and txt-2. */
export function narrativeAllowed(version: FhirVersion, div: string): boolean {
  let check = checks.get(version);
  if (!check) {
    check = fhirpath.compile({ base: 'Narrative.div', expression: 'htmlChecks()' } as never, MODELS[version] as never) as (div: string) => unknown[];
    checks.set(version, check);
  }
  return check(div.includes('xml:') ? div.replace(XML_NAMESPACE_ATTRIBUTE, '') : div)[0] === true;
}
