import {
  AVAILABILITY_MEASURE,
  BED_STATUS_SYSTEM,
  LOCATION_PHYSICAL_TYPE_SYSTEM,
  POPULATION_SYSTEM,
  ZORGREGIO_EXTENSION,
} from '../../src/capacity/canonical.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Party } from '../../test/harness/parties.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * What the providers' EHRs post to their own gateways: their directory entry and their capacity, each with the
 * internal, competition-sensitive data a real EHR carries along (tariffs, contracts, per-insurer client stops,
 * budget ceilings, staffing). `internal` lists every such value and field name, so the demo can search every payload
 * that left for them.
 */
export interface ProviderInput {
  organization: Resource;
  /** `POST /fhir/MeasureReport` (counts) or `POST /fhir/Location/$census` (beds). */
  capacity: { path: string; resource: Resource };
  internal: string[];
}

const now = () => new Date().toISOString();

function organization(p: Party, postalCode: string, internal: { contract: string; clientStop: string; street: string }): Resource {
  return {
    resourceType: 'Organization',
    id: 'self',
    identifier: [
      { system: URA_SYSTEM, value: p.ura },
      { system: 'http://zorgverzekeraar.example/fhir/NamingSystem/contract', value: internal.contract },
    ],
    name: p.name,
    extension: [
      { url: ZORGREGIO_EXTENSION, valueId: 'rijnmond' },
      { url: `http://${p.id}.example/fhir/StructureDefinition/clientenstop`, valueString: internal.clientStop },
    ],
    address: [{ line: [internal.street], postalCode, city: 'Rotterdam' }],
  };
}

/** Zorggroep Maas reports counts: ELV hoog 2 of 10, GRZ 0 of 6, with its tariffs and budget ceiling attached. */
export function maasInput(p: Party): ProviderInput {
  const internal = {
    contract: 'ZK-2025-ELV-0731',
    clientStop: 'cliëntenstop Zilveren Kruis vanaf 1 december',
    street: 'Maasboulevard 7',
    tariff: 'dagtarief ELV hoog € 312,50',
    ceiling: 'omzetplafond 2025 € 1.250.000',
    staff: 'nachtdienst 2 FTE verpleegkundige',
  };
  const group = (code: string, available: number, total: number) => ({
    code: { coding: [{ system: CARE_TYPE_SYSTEM, code, display: `${code} (${internal.tariff})` }] },
    population: [
      { code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] }, count: available },
      { code: { coding: [{ system: POPULATION_SYSTEM, code: 'total' }] }, count: total },
      { code: { coding: [{ system: `http://${p.id}.example/populations`, code: 'bezetting' }], text: internal.staff }, count: 2 },
    ],
  });
  const report: Resource = {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: AVAILABILITY_MEASURE,
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${internal.tariff}; ${internal.ceiling}</div>` },
    contained: [{ resourceType: 'Basic', id: 'contract', code: { text: internal.contract } }],
    extension: [{ url: `http://${p.id}.example/fhir/StructureDefinition/omzetplafond`, valueString: internal.ceiling }],
    date: now(),
    period: { start: now(), end: now() },
    group: [group('elv-hoog', 2, 10), group('grz', 0, 6)],
  };
  return {
    organization: organization(p, '3011 AB', internal),
    capacity: { path: '/fhir/MeasureReport', resource: report },
    internal: [...Object.values(internal), 'omzetplafond', 'clientenstop', 'bezetting', 'zorgverzekeraar.example'],
  };
}

/** Huize Rotte sends its bed census: 8 ELV hoog beds (1 free) and 3 palliative beds (1 free), with bed tariffs. */
export function rotteInput(p: Party): ProviderInput {
  const internal = {
    contract: 'CZ-2025-VVT-118',
    clientStop: 'cliëntenstop CZ wegens plafond',
    street: 'Rottekade 12',
    bedTariff: 'bedtarief palliatief € 389,00',
  };
  const beds = [
    ...['U', 'O', 'O', 'O', 'O', 'O', 'O', 'O'].map((status) => ['elv-hoog', status]),
    ...['U', 'O', 'O'].map((status) => ['elv-palliatief', status]),
  ].map(([careType, status], index) => ({
    resource: {
      resourceType: 'Location',
      id: `bed-${index + 1}`,
      status: 'active',
      name: `Kamer ${101 + index}`,
      operationalStatus: { system: BED_STATUS_SYSTEM, code: status },
      type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: careType }] }],
      physicalType: { coding: [{ system: LOCATION_PHYSICAL_TYPE_SYSTEM, code: 'bd' }] },
      extension: [{ url: `http://${p.id}.example/fhir/StructureDefinition/bedtarief`, valueString: internal.bedTariff }],
    },
  }));
  return {
    organization: organization(p, '3035 EA', internal),
    capacity: { path: '/fhir/Location/$census', resource: { resourceType: 'Bundle', type: 'collection', timestamp: now(), entry: beds } },
    internal: [...Object.values(internal), 'bedtarief', 'clientenstop', 'Kamer 10', 'zorgverzekeraar.example'],
  };
}
