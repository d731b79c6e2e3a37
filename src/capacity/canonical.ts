import { GATEWAY_CANONICAL } from '../vocabulary/canonical.js';

/** Canonical URLs of the capacity model (profiles/r4/capacity) and the external systems it uses. */
export const POPULATION_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/availability-population`;
export const ENDPOINT_ROLE_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/eoverdracht-endpoint`;
export const AVAILABILITY_MEASURE = `${GATEWAY_CANONICAL}/Measure/care-availability`;
export const AVAILABILITY_REPORT_PROFILE = `${GATEWAY_CANONICAL}/StructureDefinition/availability-report`;
export const ZORGREGIO_EXTENSION = `${GATEWAY_CANONICAL}/StructureDefinition/zorgregio`;

export const DATA_ABSENT_REASON_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
export const BED_STATUS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0116';
export const LOCATION_PHYSICAL_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/location-physical-type';
export const ENDPOINT_CONNECTION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type';
