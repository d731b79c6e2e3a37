import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isObject } from '../vocabulary/json.js';
import type { DocumentKind } from './codes.js';

/**
 * Which of a transfer's resources a receiver reads only with a person in its token (the mark on its Consents):
 * the data of `conformance/person-policy.json`, read and checked once. Change the policy there, not here.
 */
export type PersonPolicy = Record<'Task' | DocumentKind, boolean>;

const PERSON_POLICY_FILE = fileURLToPath(new URL('../../conformance/person-policy.json', import.meta.url));
const ENTRIES: (keyof PersonPolicy)[] = ['Task', 'advanceNotice', 'nursingHandoff'];

/** The policy of the pull purpose in `file`; throws when an entry is missing or not a boolean. */
export function loadPersonPolicy(purpose: string, file = PERSON_POLICY_FILE): PersonPolicy {
  const policy: unknown = (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)[purpose];
  if (!isObject(policy)) throw new Error(`${file}: no policy for '${purpose}'`);
  const wrong = ENTRIES.filter((entry) => typeof policy[entry] !== 'boolean');
  if (wrong.length > 0) throw new Error(`${file}: '${purpose}' needs true or false for ${wrong.join(', ')}`);
  return Object.fromEntries(ENTRIES.map((entry) => [entry, policy[entry]])) as PersonPolicy;
}
