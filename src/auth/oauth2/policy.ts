import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PEX } from '@sphereon/pex';
import { isObject } from '../../vocabulary/json.js';
import { isKnownPurpose } from '../purposes.js';
import type { PresentationDefinition } from './presentationExchange.js';

/**
 * Scope → Presentation Definitions, as data (conformance/nuts-policy.json, in the format of nuts-node's policy
 * directory: `{"<scope>": {"organization": <PD>, "user": <PD>}}`). The organisation definition must be met; the user
 * definition is met when the presentation carries a person credential. Each scope is a purpose of use (purposes.ts).
 */
export interface ScopePolicy {
  organization: PresentationDefinition;
  user?: PresentationDefinition;
}

export type Policies = ReadonlyMap<string, ScopePolicy>;

export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../../conformance/nuts-policy.json', import.meta.url));

export function validDefinition(value: unknown, where: string): PresentationDefinition {
  let checks: { status: string; message?: string }[];
  try {
    checks = isObject(value) && typeof value.id === 'string' ? [PEX.validateDefinition(value as never)].flat() : [{ status: 'error', message: 'not an object with an id' }];
  } catch (error) {
    checks = [{ status: 'error', message: (error as Error).message }];
  }
  const invalid = checks.filter((check) => check.status === 'error');
  if (invalid.length > 0) throw new Error(`${where} is not a valid Presentation Definition: ${invalid.map((check) => check.message).join('; ')}`);
  return value as PresentationDefinition;
}

export function parsePolicies(raw: unknown, source: string): Policies {
  if (!isObject(raw)) throw new Error(`${source} must be an object of scopes`);
  const policies = new Map<string, ScopePolicy>();
  for (const [scope, entry] of Object.entries(raw)) {
    if (!isKnownPurpose(scope)) throw new Error(`${source}: scope '${scope}' is not a purpose of use this gateway knows`);
    if (!isObject(entry)) throw new Error(`${source}: scope '${scope}' must be an object`);
    policies.set(scope, {
      organization: validDefinition(entry.organization, `${source}: ${scope}.organization`),
      ...(entry.user !== undefined ? { user: validDefinition(entry.user, `${source}: ${scope}.user`) } : {}),
    });
  }
  return policies;
}

export const loadPolicies = (file = DEFAULT_POLICY_FILE): Policies => parsePolicies(JSON.parse(readFileSync(file, 'utf8')), file);
