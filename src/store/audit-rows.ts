import { GATEWAY_CANONICAL } from '../vocabulary/canonical.js';
import { relativeReference, truncateIndexText } from '../fhir/search/text.js';
import type { Resource } from '../fhir/version.js';
import type { AuditEventsTable, AuditReferencesTable } from './schema.js';

/**
 * How an R4 AuditEvent is kept in the audit trail's tables: one row with the single-valued parameters it is searched
 * by (when, type, subtype, outcome), and one row per reference it names (agents and entities by reference or
 * identifier, and the patients among them). The NEN 7513 questions — who saw this patient's data, what did this
 * organisation or user do, what was refused when — are answered from these rows alone.
 */
export type AuditEventRow = Omit<AuditEventsTable, 'seq' | 'unverified'>;

/**
 * AuditEvent.agent.type of a requester whose identity was claimed but not verified (a refused token request, see
 * audit/auditor.ts); such events are kept for `audit.unverifiedRetentionDays`.
 */
export const UNVERIFIED_AGENT = {
  system: `${GATEWAY_CANONICAL}/CodeSystem/audit-agent-type`,
  code: 'unverified',
  display: 'Requester not verified',
} as const;
export type AuditReferenceRow = Omit<AuditReferencesTable, 'seq'>;

interface Coding {
  system?: string;
  code?: string;
}

interface Party {
  reference?: string;
  identifier?: { system?: string; value?: string };
}

/** The rows of `event`, which carries its id and `recorded` (as the audit trail stores it). */
export function auditTrailRows(tenant: string, event: Resource): { event: AuditEventRow; references: AuditReferenceRow[] } {
  const type = event.type as Coding | undefined;
  const [subtype] = (event.subtype as Coding[] | undefined) ?? [];
  const row: AuditEventRow = {
    tenant,
    id: event.id as string,
    recorded: recordedMillis(event),
    type_system: type?.system ?? null,
    type_code: type?.code ?? null,
    subtype_system: subtype?.system ?? null,
    subtype_code: subtype?.code ?? null,
    outcome: typeof event.outcome === 'string' ? event.outcome : null,
    content: JSON.stringify(event),
  };
  const agents = ((event.agent as { who?: Party }[] | undefined) ?? []).map((agent) => agent.who);
  const entities = ((event.entity as { what?: Party }[] | undefined) ?? []).map((entity) => entity.what);
  const references = new Map<string, AuditReferenceRow>();
  const add = (param: string, value: string | undefined, system = '') => {
    if (value) references.set(`${param}|${system}|${value}`, { tenant, param, value: truncateIndexText(value), system: truncateIndexText(system) });
  };
  for (const [param, parties] of [['agent', agents] as const, ['entity', entities] as const]) {
    for (const party of parties) {
      const reference = party?.reference === undefined ? undefined : relativeReference(party.reference) ?? party.reference;
      add(param, reference);
      if (reference?.startsWith('Patient/')) add('patient', reference);
      add(`${param}:identifier`, party?.identifier?.value, party?.identifier?.system);
    }
  }
  return { event: row, references: [...references.values()] };
}

/** Whether `event`'s requester was claimed but not verified (its `unverified` column). */
export function hasUnverifiedRequester(event: Resource): boolean {
  const agents = (event.agent as { requestor?: boolean; type?: { coding?: Coding[] } }[] | undefined) ?? [];
  return agents.some(
    (agent) => agent.requestor === true && (agent.type?.coding ?? []).some((coding) => coding.system === UNVERIFIED_AGENT.system && coding.code === UNVERIFIED_AGENT.code),
  );
}

function recordedMillis(event: Resource): number {
  const recorded = Date.parse(String(event.recorded));
  return Number.isNaN(recorded) ? Date.parse(String((event.meta as { lastUpdated?: string } | undefined)?.lastUpdated)) : recorded;
}
