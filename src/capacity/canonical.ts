/** Canonical URLs of the capacity model (profiles/r4/capacity) and the external systems it uses. */
export const CANONICAL_BASE = 'https://vervolgzorg-gateway.example/fhir';

export const CARE_TYPE_SYSTEM = `${CANONICAL_BASE}/CodeSystem/care-type`;
export const CARE_TYPE_VALUESET = `${CANONICAL_BASE}/ValueSet/care-type`;
export const POPULATION_SYSTEM = `${CANONICAL_BASE}/CodeSystem/availability-population`;
export const ENDPOINT_ROLE_SYSTEM = `${CANONICAL_BASE}/CodeSystem/eoverdracht-endpoint`;
export const AVAILABILITY_MEASURE = `${CANONICAL_BASE}/Measure/care-availability`;
export const AVAILABILITY_REPORT_PROFILE = `${CANONICAL_BASE}/StructureDefinition/availability-report`;
export const PROVIDER_ORGANIZATION_PROFILE = `${CANONICAL_BASE}/StructureDefinition/provider-organization`;
export const EOVERDRACHT_ENDPOINT_PROFILE = `${CANONICAL_BASE}/StructureDefinition/eoverdracht-endpoint`;
export const ZORGREGIO_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/zorgregio`;

export const URA_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/ura';
export const AGB_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/agb-z';
export const DATA_ABSENT_REASON_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
export const BED_STATUS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0116';
export const LOCATION_PHYSICAL_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/location-physical-type';
export const ENDPOINT_CONNECTION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type';
