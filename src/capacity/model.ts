/** The capacity domain, independent of FHIR: what a provider has free, per care type, at one moment. */

/** A count that may be unknown: a number, or the data-absent-reason code saying why it is missing. */
export type Count = number | { absent: string };

export interface CareTypeAvailability {
  careType: string;
  available: Count;
  /** Places in operation for this care type (occupied plus free); optional. */
  total?: Count;
}

/** A provider's availability at one moment: one SANER-style report. */
export interface Availability {
  /** ISO instant of the measurement. */
  measuredAt: string;
  groups: CareTypeAvailability[];
}

/** How a provider is named in what it publishes: its URA (or AGB) identifier and its name. */
export interface ProviderIdentity {
  identifier: { system: string; value: string };
  name: string;
}

export const UNKNOWN = { absent: 'unknown' } as const satisfies Count;

export function isKnown(count: Count | undefined): count is number {
  return typeof count === 'number';
}

/** The key under which a provider is tracked: `system|value` of its identifier. */
export function providerKey(identifier: { system: string; value: string }): string {
  return `${identifier.system}|${identifier.value}`;
}
