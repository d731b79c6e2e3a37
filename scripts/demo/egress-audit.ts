import { createHash } from 'node:crypto';
import type { Resource } from '../../src/fhir/version.js';
import { ehrToken, fhirCall } from '../../test/harness/calls.js';
import type { Gateway } from './sites.js';

/**
 * The proof of the competition line: every availability payload a provider's gateway sent is recorded there as an
 * Export AuditEvent (destination, SHA-256, the payload itself). Read them all through the provider's own FHIR API,
 * check each hash, and search each payload for every internal value and field name the provider's EHR posted.
 */
export interface EgressRecord {
  destination: string;
  payload: string;
  hashMatches: boolean;
}

export interface EgressAudit {
  provider: Gateway;
  records: EgressRecord[];
  /** Internal values or names found in a payload (should be none). */
  leaks: { value: string; destination: string }[];
  /** The payload's elements (top-level and of contained resources), the same for every record. */
  elements: string[];
}

const EXPORT = 'http://dicom.nema.org/resources/ontology/DCM|110106';

interface Detail {
  type: string;
  valueString?: string;
  valueBase64Binary?: string;
}

/** Every Export record of the tenant, following the search's next links. */
async function exportRecords(provider: Gateway): Promise<Resource[]> {
  const token = await ehrToken(provider.url, provider.party);
  const records: Resource[] = [];
  let next: string | undefined = `/fhir/AuditEvent?type=${encodeURIComponent(EXPORT)}&_count=100`;
  while (next) {
    const { status, body } = await fhirCall(provider.url, token, 'GET', next);
    if (status !== 200) throw new Error(`AuditEvent search at ${provider.party.name} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
    records.push(...((body.entry as { resource: Resource }[] | undefined) ?? []).map((entry) => entry.resource));
    const link = (body.link as { relation: string; url: string }[] | undefined)?.find((l) => l.relation === 'next')?.url;
    next = link === undefined ? undefined : link.slice(new URL(link).origin.length);
  }
  return records;
}

function egressRecord(record: Resource): EgressRecord | undefined {
  const details = ((record.entity as { detail?: Detail[] }[] | undefined) ?? []).flatMap((entity) => entity.detail ?? []);
  const value = (type: string) => details.find((detail) => detail.type === type);
  const payload = value('payload')?.valueBase64Binary;
  if (payload === undefined) return undefined;
  const bytes = Buffer.from(payload, 'base64');
  return {
    destination: value('destination')?.valueString ?? '?',
    payload: bytes.toString('utf8'),
    hashMatches: createHash('sha256').update(bytes).digest('hex') === value('sha256')?.valueString,
  };
}

/** The payload's elements, and those of each kind of contained resource (e.g. `contained Endpoint ×3 (...)`). */
function elementsOf(payload: string): string[] {
  const resource = JSON.parse(payload) as Resource;
  const contained = new Map<string, number>();
  for (const inner of (resource.contained as Resource[] | undefined) ?? []) {
    const shape = `${inner.resourceType} (${Object.keys(inner).filter((key) => key !== 'resourceType').join(', ')})`;
    contained.set(shape, (contained.get(shape) ?? 0) + 1);
  }
  return [
    ...Object.keys(resource).filter((key) => key !== 'contained'),
    ...[...contained].map(([shape, count]) => `contained ${count > 1 ? `${count} × ` : ''}${shape}`),
  ];
}

/** The counts a payload carried, e.g. `elv-hoog 1 of 10, grz 0 of 6`. */
export function countsOf(payload: string): string {
  const groups = (JSON.parse(payload) as Resource).group as { code: { coding: { code: string }[] }; population: { code: { coding: { code: string }[] }; count?: number }[] }[];
  return groups
    .map((group) => {
      const count = (code: string) => group.population.find((p) => p.code.coding[0].code === code)?.count ?? 'unknown';
      return `${group.code.coding[0].code} ${count('available')} of ${count('total')}`;
    })
    .join(', ');
}

export async function auditEgress(provider: Gateway, internal: string[]): Promise<EgressAudit> {
  const records = (await exportRecords(provider)).map(egressRecord).filter((record): record is EgressRecord => record !== undefined);
  const leaks = records.flatMap((record) =>
    internal.filter((value) => record.payload.toLowerCase().includes(value.toLowerCase())).map((value) => ({ value, destination: record.destination })),
  );
  return { provider, records, leaks, elements: records.length > 0 ? elementsOf(records[records.length - 1].payload) : [] };
}

/** What the coordination point holds: its stored reports (the board's source), searched for the same values. */
export async function coordinationPointHoldings(cp: Gateway, internal: string[]): Promise<{ reports: number; versions: number; leaks: string[] }> {
  const token = await ehrToken(cp.url, cp.party);
  const current = await fhirCall(cp.url, token, 'GET', '/fhir/MeasureReport?_count=100');
  const history = await fhirCall(cp.url, token, 'GET', '/fhir/MeasureReport/_history?_count=1000');
  const text = JSON.stringify([current.body, history.body]).toLowerCase();
  return {
    reports: ((current.body.entry as unknown[] | undefined) ?? []).length,
    versions: ((history.body.entry as unknown[] | undefined) ?? []).length,
    leaks: internal.filter((value) => text.includes(value.toLowerCase())),
  };
}
