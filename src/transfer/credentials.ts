import { decodeJwt, type JWTPayload } from 'jose';
import { credentialSubjectOf, type CredentialService } from '../auth/credentials.js';
import type { GrantedResource } from '../fhir/principal.js';
import { isObject } from '../vocabulary/json.js';

/**
 * The authorization credentials of a transfer (RFC014 shape), issued by the sender to the receiver of one Task:
 * one opens the Task itself (read, and update for the receiver's answers) and lives until the Task ends; the other
 * opens the document the Task's status allows (advance notice, later the nursing handoff) with everything it
 * references, and is swapped when the document changes. Keeping them apart lets the receiver tell "the document
 * moved on" from "the transfer is over": only the end of the transfer revokes the Task credential.
 */
export const PURPOSE = {
  /** The receiver pulls from the sender's FHIR API. */
  pull: 'eOverdracht-sender',
  /** The sender notifies the receiver's notification endpoint. */
  notify: 'eOverdracht-receiver',
} as const;

/** How the notification hands the current credentials to the receiver (Parameters.parameter names, valueString JWTs). */
export const NOTIFICATION_PARAMETERS = { taskCredential: 'taskCredential', documentCredential: 'documentCredential' } as const;

export interface IssuedCredential {
  id: string;
  jwt: string;
}

const granted = (path: string, operations: GrantedResource['operations']): GrantedResource => ({ path, operations, userContext: false });

export async function issueTaskCredential(credentials: CredentialService, sender: string, receiver: string, taskId: string): Promise<IssuedCredential> {
  return issue(credentials, sender, receiver, [granted(`/Task/${taskId}`, ['read', 'update'])]);
}

/** `resources`: the Composition and everything it references, as `Type/id`. */
export async function issueDocumentCredential(credentials: CredentialService, sender: string, receiver: string, resources: string[]): Promise<IssuedCredential> {
  return issue(credentials, sender, receiver, resources.map((key) => granted(`/${key}`, ['read'])));
}

async function issue(credentials: CredentialService, sender: string, receiver: string, resources: GrantedResource[]): Promise<IssuedCredential> {
  const { credential, jwt } = await credentials.issue(sender, { subject: receiver, purposeOfUse: PURPOSE.pull, resources });
  return { id: credential.id, jwt };
}

/** The unverified claims of a credential the receiver holds (the sender's token endpoint verifies it when presented). */
function claimsOf(jwt: string | undefined): JWTPayload | undefined {
  if (!jwt) return undefined;
  try {
    return decodeJwt(jwt);
  } catch {
    return undefined;
  }
}

/** True when the credential grants read access to `Type/id` (the receiver checks this before it asks). */
export function credentialCovers(jwt: string | undefined, key: string): boolean {
  const resources = credentialSubjectOf(claimsOf(jwt))?.resources;
  return Array.isArray(resources) && resources.some((resource) => isObject(resource) && resource.path === `/${key}` && Array.isArray(resource.operations) && resource.operations.includes('read'));
}

/** Who issued a credential, to whom and when; undefined when it is not a JWT at all. */
export function credentialParties(jwt: string): { iss?: string; sub?: string; iat?: number } | undefined {
  const claims = claimsOf(jwt);
  return claims && { iss: claims.iss, sub: claims.sub, iat: claims.iat };
}
