import { decodeJwt, type JWTPayload } from 'jose';
import { credentialSubjectOf, type CredentialService } from '../auth/credentials.js';
import { CredentialRevoked } from '../auth/jws.js';
import type { HeldCredentials } from '../auth/tokenService.js';
import type { GrantedResource } from '../fhir/principal.js';
import type { UnitOfWork } from '../store/repository.js';
import { isObject } from '../vocabulary/json.js';
import type { TransferDocument } from './document.js';
import type { PersonPolicy } from './person-policy.js';
import { readOutbound } from './records.js';

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

export interface IssuedCredential {
  id: string;
  jwt: string;
}

const granted = (path: string, operations: GrantedResource['operations'], userContext: boolean): GrantedResource => ({ path, operations, userContext });

/** The issuer of a transfer's credentials: the sender's credential service, and its policy on a person in the receiver's token. */
export interface CredentialIssuer {
  credentials: CredentialService;
  personPolicy: PersonPolicy;
}

export async function issueTaskCredential(issuer: CredentialIssuer, sender: string, receiver: string, taskId: string): Promise<IssuedCredential> {
  return issue(issuer.credentials, sender, receiver, [granted(`/Task/${taskId}`, ['read', 'update'], issuer.personPolicy.Task)]);
}

/** `document.shared`: the Composition and everything it references, as `Type/id`, opened as the policy says for its kind. */
export async function issueDocumentCredential(
  issuer: CredentialIssuer,
  sender: string,
  receiver: string,
  document: Pick<TransferDocument, 'kind' | 'shared'>,
): Promise<IssuedCredential> {
  const userContext = issuer.personPolicy[document.kind];
  return issue(issuer.credentials, sender, receiver, document.shared.map((key) => granted(`/${key}`, ['read'], userContext)));
}

async function issue(credentials: CredentialService, sender: string, receiver: string, resources: GrantedResource[]): Promise<IssuedCredential> {
  const { credential, jwt } = await credentials.issue(sender, { subject: receiver, purposeOfUse: PURPOSE.pull, resources });
  return { id: credential.id, jwt };
}

/** A Task on either FHIR base of this gateway, as a path: the resource a receiver asks a token for. */
const TASK_RESOURCE = /^\/fhir(?:\/stu3)?\/Task\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The sender keeps the credentials it issued for a transfer in the transfer's record and hands them to nobody: a
 * receiver that asks its token endpoint for a token for the Task (RFC 8707 `resource`, presenting no credential) is
 * given them when the Task was offered to it, then as if it had presented them (verified, revocation checked on every
 * request). Once the transfer ended they are revoked, and the refusal says so (`credential-revoked`). This stands in
 * for resource-level Consents (docs/transfer.md, Access) until they come.
 */
export function heldTransferCredentials(store: Pick<UnitOfWork, 'transfers'>): HeldCredentials {
  return async ({ authorizer, requester, resource }) => {
    const taskId = TASK_RESOURCE.exec(resource)?.[1];
    const record = taskId === undefined ? undefined : await readOutbound(store, authorizer, taskId);
    if (!record || record.receiver !== requester) return [];
    if (!record.taskCredentialJwt) throw new CredentialRevoked(`the transfer of Task/${taskId} has ended: access withdrawn`);
    return [record.taskCredentialJwt, record.documentCredentialJwt].filter((jwt) => jwt !== undefined);
  };
}

/** The unverified claims of a credential (the token endpoint verifies it when it grants it). */
function claimsOf(jwt: string | undefined): JWTPayload | undefined {
  if (!jwt) return undefined;
  try {
    return decodeJwt(jwt);
  } catch {
    return undefined;
  }
}

/** True when the credential grants read access to `Type/id`. */
export function credentialCovers(jwt: string | undefined, key: string): boolean {
  const resources = credentialSubjectOf(claimsOf(jwt))?.resources;
  return Array.isArray(resources) && resources.some((resource) => isObject(resource) && resource.path === `/${key}` && Array.isArray(resource.operations) && resource.operations.includes('read'));
}

/** Who issued a credential, to whom and when; undefined when it is not a JWT at all. */
export function credentialParties(jwt: string): { iss?: string; sub?: string; iat?: number } | undefined {
  const claims = claimsOf(jwt);
  return claims && { iss: claims.iss, sub: claims.sub, iat: claims.iat };
}
