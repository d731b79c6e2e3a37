/**
 * Resource types whose official search parameters are not all indexed: for these, only the listed ones are (and
 * only those are searchable and shown in the CapabilityStatement). Every other type indexes all of its official
 * parameters.
 *
 * The audit trail gets a record for every access to patient data, so each index row of an AuditEvent is paid on
 * every read. It is searched by when, what kind of event, who, which patient, which resource and with what outcome
 * (NEN 7513); the other parameters (agent role and network address, entity names and roles, policy, site, the meta
 * parameters, ...) would more than double the rows per record.
 */
const INDEXED_ONLY: Record<string, ReadonlySet<string>> = {
  AuditEvent: new Set(['_id', '_lastUpdated', 'date', 'type', 'subtype', 'action', 'outcome', 'agent', 'entity', 'patient']),
};

/** True when the official parameter `code` of `resourceType` is indexed (and so searchable). */
export function isIndexedOfficialParameter(resourceType: string, code: string): boolean {
  return INDEXED_ONLY[resourceType]?.has(code) ?? true;
}
