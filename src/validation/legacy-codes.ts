import { SNOMED } from '../vocabulary/canonical.js';
import { asList, sameCoding } from '../vocabulary/json.js';

/**
 * Codes a profile has replaced but that senders still use. DESIGN §3: the eOverdracht profiles (rc.23, after
 * EOVDR-34 in 2022) fix the document codes SNOMED 721915006 (advance notice) and 11171000146100 (nursing
 * handoff); before 2022 they were LOINC 57830-2 and SNOMED 371535009, and the Nictiz examples still use those.
 * Where a fixed or pattern value wants a current code and the instance carries its predecessor, the gateway
 * accepts it with a warning naming the current code, instead of refusing the message.
 */
export interface Coding {
  system: string;
  code: string;
}

export interface Replacement {
  current: Coding;
  predecessor: Coding;
  label: string;
}

export const EOVERDRACHT_REPLACED_CODES: readonly Replacement[] = [
  {
    current: { system: SNOMED, code: '721915006' },
    predecessor: { system: 'http://loinc.org', code: '57830-2' },
    label: 'eOverdracht advance notice',
  },
  {
    current: { system: SNOMED, code: '11171000146100' },
    predecessor: { system: SNOMED, code: '371535009' },
    label: 'eOverdracht nursing handoff',
  },
];

/** The codings of a Coding or CodeableConcept value (fixed, pattern or instance). */
function codings(value: unknown): Coding[] {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const list = 'coding' in record ? asList(record.coding) : [record];
  return list.filter((c): c is Coding => typeof c === 'object' && c !== null && 'code' in c);
}

/** The replacement that explains why `instance` does not match `expected`, if one does. */
export function replacedCode(instance: unknown, expected: unknown): Replacement | undefined {
  const wanted = codings(expected);
  const present = codings(instance);
  return EOVERDRACHT_REPLACED_CODES.find(
    (r) => wanted.some((c) => sameCoding(c, r.current)) && present.some((c) => sameCoding(c, r.predecessor)),
  );
}

/**
 * The profile revision that brought in the current codes (EOVDR-34, July 2022). A document that carries a
 * predecessor code and is dated before it was written to the earlier profile, which differs in more than the
 * code (sections were added since): it is checked against the base resource, and the current profile's
 * requirements are reported as warnings. Documents dated later must meet the current profile.
 */
export const PROFILE_REVISION = '2022-07-01';

export interface EarlierRevision {
  replacement: Replacement;
  date: string;
}

export function earlierRevision(resource: Record<string, unknown>): EarlierRevision | undefined {
  const date = resource.date;
  if (resource.resourceType !== 'Composition' || typeof date !== 'string' || date >= PROFILE_REVISION) return undefined;
  const present = codings(resource.type);
  const replacement = EOVERDRACHT_REPLACED_CODES.find((r) => present.some((c) => sameCoding(c, r.predecessor)));
  return replacement && { replacement, date };
}
