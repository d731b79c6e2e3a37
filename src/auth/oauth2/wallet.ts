import { GatewayError } from '../../errors.js';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Person, SealedDezi } from '../../fhir/principal.js';
import { deziDeclaration, employeeCredential } from '../credentials/person.js';
import { SealedDeziRefused, type DeziOwner, type DeziSealer } from '../credentials/sealedDezi.js';
import { signPresentation } from '../credentials/presentation.js';
import { credentialOfJwt, type DecodedCredential } from '../credentials/w3c.js';
import type { HostedParty } from '../trust.js';
import { matchDefinition, type PresentationDefinition } from './presentationExchange.js';

/**
 * The client side of the Nuts v6 grants (nuts-node `auth/client/iam` RequestRFC021AccessToken): what a hosted
 * organisation presents to another organisation's authorization server. Its wallet holds its X509Credential
 * (auth/credentials/organizationCredentials.ts) and, when a call has a person, a credential for them: the Dezi
 * declaration when the tenant's EHR handed over a Dezi id_token (kept sealed, opened here and only here), else a
 * NutsEmployeeCredential the organisation attests itself. The credentials are matched (Presentation Exchange,
 * @sphereon/pex) against the scope's definitions; the match is the `presentation_submission`. A definition the wallet
 * cannot meet is an error here, before anything is sent.
 */
export interface Wallet {
  /** The organisation's X509Credential (a JWT VC), undefined when it has none. */
  x509Credential(organization: string): string | undefined;
  /** Opens the Dezi id_tokens kept for the organisations' persons (configured with `nuts.dezi`). */
  deziSealer?: DeziSealer;
}

/** The remote's Presentation Definitions of a scope: the organisation's, and the person's when it publishes one. */
export interface ScopeDefinitions {
  organization: PresentationDefinition;
  user?: PresentationDefinition;
}

export interface BuiltPresentation {
  /** The signed JWT VP (`assertion`). */
  assertion: string;
  /** PE §6 presentation_submission (JSON). */
  submission: string;
}

/** The wallet cannot meet what the remote asks: nothing was sent. */
export class PresentationDefinitionUnmet extends GatewayError {
  static override readonly code = 'ERR_PRESENTATION_DEFINITION_UNMET';
}

/** The Dezi proof of the v0.7 id_token claims person.ts reads (nuts-node project-gf `vcr/credential/dezi.go`). */
const DEZI_PROOF_TYPE = 'DeziIDJWT07';

interface Held {
  /** As it goes into `vp.verifiableCredential`. */
  sent: unknown;
  /** As Presentation Exchange reads it. */
  decoded: DecodedCredential;
  format: 'jwt_vc' | 'ldp_vc';
}

function deziCredential(idToken: string, now: number): Held {
  let declared: ReturnType<typeof deziDeclaration>;
  try {
    declared = deziDeclaration(decodeJwt(idToken), now);
  } catch (error) {
    // Never the token itself in a message (it is a credential): only why it cannot be used.
    throw new PresentationDefinitionUnmet(`the Dezi id_token the EHR handed over cannot be presented: ${(error as Error).message}`);
  }
  return { sent: { ...declared.credential, proof: { type: DEZI_PROOF_TYPE, jwt: idToken } }, decoded: declared.credential, format: 'ldp_vc' };
}

/** The Dezi id_token kept for the organisation's person, opened; SealedDeziRefused when it does not open. */
function deziIdToken(wallet: Wallet, owner: DeziOwner, sealed: SealedDezi): string {
  if (!wallet.deziSealer) throw new SealedDeziRefused(`a Dezi id_token is kept for person '${owner.person}' of '${owner.tenant}', but no Dezi encryption key is configured (nuts.dezi)`);
  return wallet.deziSealer.open(sealed, owner);
}

function personCredential(party: HostedParty, wallet: Wallet, person: Person, now: number): Held {
  if (person.dezi) return deziCredential(deziIdToken(wallet, { tenant: party.organization.id, person: person.identifier }, person.dezi), now);
  const credential = employeeCredential(party.did, person, now);
  return { sent: credential, decoded: credential, format: 'ldp_vc' };
}

function heldCredentials(party: HostedParty, wallet: Wallet, person: Person | undefined, definitions: ScopeDefinitions, now: number): Held[] {
  const x509 = wallet.x509Credential(party.organization.id);
  if (!x509) throw new PresentationDefinitionUnmet(`'${party.organization.id}' has no X509Credential to present (configure organizations[].x509, or a URA in development mode)`);
  const held: Held[] = [{ sent: x509, decoded: credentialOfJwt(decodeJwt(x509), now), format: 'jwt_vc' }];
  // A remote that publishes no person definition for the scope asks for no person: none is sent.
  if (person && definitions.user) held.push(personCredential(party, wallet, person, now));
  return held;
}

function matched(definition: PresentationDefinition, credentials: DecodedCredential[], scope: string) {
  try {
    return matchDefinition(definition, credentials).matches;
  } catch (error) {
    throw new PresentationDefinitionUnmet(`scope '${scope}': ${(error as Error).message}`);
  }
}

/** Signs the presentation for `audience` (the remote issuer, valid 5 s, nonce and jti) with its submission. */
export async function buildPresentation(
  party: HostedParty,
  wallet: Wallet,
  request: { scope: string; definitions: ScopeDefinitions; person?: Person; audience: string },
  now: number,
): Promise<BuiltPresentation> {
  const { definitions, scope } = request;
  const held = heldCredentials(party, wallet, request.person, definitions, now);
  const decoded = held.map((credential) => credential.decoded);
  const answered = [definitions.organization, ...(held.length > 1 && definitions.user ? [definitions.user] : [])];
  const matches = answered.flatMap((definition) => matched(definition, decoded, scope));
  const descriptorMap = matches
    .filter((match, at) => matches.findIndex((other) => other.id === match.id && other.index === match.index) === at)
    .map(({ id, index }) => ({ id, format: held[index]!.format, path: `$.verifiableCredential[${index}]` }));
  const submission = { id: randomUUID(), definition_id: definitions.organization.id, descriptor_map: descriptorMap };
  const assertion = await signPresentation(party, held.map((credential) => credential.sent), request.audience, now);
  return { assertion, submission: JSON.stringify(submission) };
}
