import { createHash } from 'node:crypto';
import { PEX, type IPresentationDefinition } from '@sphereon/pex';
import { isObject } from '../../vocabulary/json.js';
import { TokenError } from '../jws.js';
import type { DecodedCredential } from '../credentials/w3c.js';

/**
 * DIF Presentation Exchange 2 matching (@sphereon/pex) of verified credentials against a scope's Presentation
 * Definition, and the introspection claims the definition declares: every constraint field with an `id` names a
 * claim, its value the field's value (a `pattern` with a capture group gives the captured part), as nuts-node's
 * policy files do. pex spends milliseconds on one evaluation, and the answer depends only on the definition and the
 * credentials (already verified), so it is kept per pair: the definition known by its content (a remote's definition,
 * which the client side matches, may reuse an id of ours).
 */
export type PresentationDefinition = IPresentationDefinition & { id: string };

export interface DescriptorMatch {
  /** Input descriptor id. */
  id: string;
  /** Index of the credential in `vp.verifiableCredential`. */
  index: number;
}

export interface DefinitionMatch {
  matches: DescriptorMatch[];
  claims: Record<string, string>;
}

const pex = new PEX();
const CREDENTIAL_PATH = /^\$\.verifiableCredential\[(\d+)\]$/;

/** Reads a dotted JSONPath (`$.a.b`, `$.type[*]`) the way the policies use it; undefined when it does not resolve. */
function valueAt(credential: unknown, path: string): unknown {
  if (!path.startsWith('$.')) return undefined;
  let current: unknown = credential;
  for (const segment of path.slice(2).split('.')) {
    const name = segment.replace(/\[\*\]$/, '');
    current = isObject(current) ? current[name] : undefined;
  }
  return current;
}

function claimValue(value: unknown, pattern: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value);
  if (typeof pattern !== 'string') return text;
  const match = new RegExp(pattern).exec(text);
  if (!match) return undefined;
  return match.length > 1 ? match[1] : text;
}

function claimsOf(definition: PresentationDefinition, matches: DescriptorMatch[], credentials: DecodedCredential[]): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const match of matches) {
    const descriptor = definition.input_descriptors.find((candidate) => candidate.id === match.id);
    for (const field of descriptor?.constraints?.fields ?? []) {
      if (!field.id) continue;
      for (const path of field.path) {
        const value = claimValue(valueAt(credentials[match.index], path), field.filter?.pattern);
        if (value !== undefined) {
          claims[field.id] = value;
          break;
        }
      }
    }
  }
  return claims;
}

const evaluations = new Map<string, DefinitionMatch | string>();
const fingerprints = new WeakMap<PresentationDefinition, string>();

function fingerprintOf(definition: PresentationDefinition): string {
  let fingerprint = fingerprints.get(definition);
  if (fingerprint === undefined) fingerprints.set(definition, (fingerprint = createHash('sha256').update(JSON.stringify(definition)).digest('base64url')));
  return fingerprint;
}
const MAX_EVALUATIONS = 1_000;

function evaluate(definition: PresentationDefinition, credentials: DecodedCredential[]): DefinitionMatch | string {
  const result = pex.evaluateCredentials(definition, credentials as never[]);
  const matches = (result.value?.descriptor_map ?? []).map((entry) => ({ id: entry.id, index: Number(CREDENTIAL_PATH.exec(entry.path)?.[1] ?? -1) }));
  if (result.areRequiredCredentialsPresent === 'error' || matches.length === 0 || matches.some((match) => match.index < 0)) {
    return `the credentials do not satisfy the Presentation Definition '${definition.id}'`;
  }
  return { matches, claims: claimsOf(definition, matches, credentials) };
}

/** Matches the credentials (in their presentation order) against the definition; throws when they do not satisfy it. */
export function matchDefinition(definition: PresentationDefinition, credentials: DecodedCredential[]): DefinitionMatch {
  const key = createHash('sha256').update(fingerprintOf(definition)).update('\n').update(JSON.stringify(credentials)).digest('base64url');
  let outcome = evaluations.get(key);
  if (outcome === undefined) {
    outcome = evaluate(definition, credentials);
    if (evaluations.size >= MAX_EVALUATIONS) evaluations.delete(evaluations.keys().next().value as string);
    evaluations.set(key, outcome);
  }
  if (typeof outcome === 'string') throw new TokenError(outcome);
  return outcome;
}

/**
 * Checks a `presentation_submission` (PE §6) against what matching found: it answers one of the definitions, and
 * every descriptor it maps points at a credential that satisfies that descriptor.
 */
export function assertSubmission(submission: unknown, answered: { definition: PresentationDefinition; match: DefinitionMatch }[]): void {
  let parsed: unknown = submission;
  if (typeof submission === 'string') {
    try {
      parsed = JSON.parse(submission);
    } catch {
      throw new TokenError('presentation_submission is not JSON');
    }
  }
  if (!isObject(parsed) || typeof parsed.definition_id !== 'string' || !Array.isArray(parsed.descriptor_map) || parsed.descriptor_map.length === 0) {
    throw new TokenError('presentation_submission needs a definition_id and a descriptor_map');
  }
  const definitionIds = answered.map((entry) => entry.definition.id);
  if (!definitionIds.includes(parsed.definition_id)) throw new TokenError(`presentation_submission answers '${parsed.definition_id}', not ${definitionIds.join(' or ')}`);
  const found = answered.flatMap((entry) => entry.match.matches);
  for (const entry of parsed.descriptor_map) {
    const index = isObject(entry) && typeof entry.path === 'string' ? Number(CREDENTIAL_PATH.exec(entry.path)?.[1] ?? -1) : -1;
    if (!isObject(entry) || !found.some((match) => match.id === entry.id && match.index === index)) {
      throw new TokenError(`presentation_submission maps '${isObject(entry) ? String(entry.id) : ''}' to a credential that does not satisfy it`);
    }
  }
}
