import { isObject } from '../../vocabulary/json.js';
import { invalidRequest, OAuthError } from '../errors.js';
import { TokenError } from '../jws.js';
import { isPersonCredential, verifyPersonCredential, type DeziTrust, type VerifiedPersonCredential } from '../credentials/person.js';
import { verifyPresentation, type DidKeyResolver, type VerifiedPresentation } from '../credentials/presentation.js';
import type { DecodedCredential } from '../credentials/w3c.js';
import { isX509CredentialJwt, verifyX509Credential, type VerifiedX509Credential, type X509Trust } from '../credentials/x509Credential.js';
import type { Policies, ScopePolicy } from './policy.js';
import { assertSubmission, matchDefinition } from './presentationExchange.js';

/**
 * The Nuts v6 grants that carry a Verifiable Presentation:
 * - `vp_token-bearer` (RFC021): `assertion` (a JWT VP), `presentation_submission`, `scope`; nuts-node also sends
 *   `client_id` (accepted and echoed, never trusted);
 * - RFC 7523 `jwt-bearer` as the generic functions use it (nuts-node project-gf): `assertion` a JWT VP, `scope`,
 *   `client_id`, no submission: the presentation is matched to the scope's definition as it is.
 * What both prove: a care organisation (an X509Credential chained to a trusted CA, its subject the presentation's
 * signer) and, optionally, a person (a self-attested NutsEmployeeCredential or a Dezi declaration for the same URA).
 * RFC021 §4.5: every refusal of the presentation is `invalid_request`; an unknown scope is `invalid_scope`.
 */
export const VP_TOKEN_BEARER_GRANT = 'vp_token-bearer';

export interface PresentationGrantOptions {
  policies: Policies;
  x509: X509Trust;
  dezi?: DeziTrust;
  key: DidKeyResolver;
}

export interface VerifiedPresentationGrant {
  scope: string;
  presentation: VerifiedPresentation;
  organization: VerifiedX509Credential;
  person?: VerifiedPersonCredential;
  /** The Presentation Definitions' field claims (introspection). */
  claims: Record<string, string>;
  clientId?: string;
  /** The earliest expiry of the credentials the grant rests on. */
  expiresAt?: number;
}

/** The scope's policy; one scope per request (each scope has its own definition). */
export function scopePolicy(policies: Policies, scope: unknown): { scope: string; policy: ScopePolicy } {
  if (typeof scope !== 'string' || scope.trim() === '') throw invalidRequest('scope is required');
  const policy = policies.get(scope.trim());
  if (!policy) throw new OAuthError('invalid_scope', `scope '${scope}' is not one scope this authorization server knows`);
  return { scope: scope.trim(), policy };
}

async function credentialsOf(presentation: VerifiedPresentation, options: PresentationGrantOptions, now: number) {
  let organization: VerifiedX509Credential | undefined;
  let person: VerifiedPersonCredential | undefined;
  const decoded: DecodedCredential[] = [];
  for (const entry of presentation.credentials) {
    if (isX509CredentialJwt(entry)) {
      if (organization) throw new TokenError('the presentation holds more than one X509Credential');
      organization = await verifyX509Credential(entry, options.x509, now);
      decoded.push(organization.credential);
    } else if (isObject(entry) && isPersonCredential(entry)) {
      if (person) throw new TokenError('the presentation holds more than one person credential');
      person = await verifyPersonCredential(entry, presentation.holder, options.dezi, now);
      decoded.push(person.credential);
    } else {
      throw new TokenError('the presentation holds a credential of a kind not accepted here');
    }
  }
  if (!organization) throw new TokenError('the presentation holds no X509Credential');
  return { organization, person, decoded };
}

export type PresentationGrantType = typeof VP_TOKEN_BEARER_GRANT | 'jwt-bearer';

/** The request parameters a presentation grant needs, checked before its assertion is read. */
export function grantParameters(params: Record<string, unknown>, grantType: PresentationGrantType, policies: Policies): { scope: string; policy: ScopePolicy } {
  const scoped = scopePolicy(policies, params.scope);
  if (typeof params.assertion !== 'string' || params.assertion === '') throw invalidRequest('assertion is required');
  if (grantType === VP_TOKEN_BEARER_GRANT && params.presentation_submission === undefined) throw invalidRequest('presentation_submission is required');
  if (params.client_id !== undefined && (typeof params.client_id !== 'string' || params.client_id.length > 500)) throw invalidRequest('client_id must be a string');
  return scoped;
}

export async function verifyPresentationGrant(
  params: Record<string, unknown>,
  grantType: PresentationGrantType,
  options: PresentationGrantOptions & { issuer: string; now: number },
): Promise<VerifiedPresentationGrant> {
  const { scope, policy } = grantParameters(params, grantType, options.policies);
  try {
    const presentation = await verifyPresentation(params.assertion, { audience: options.issuer, now: options.now, key: options.key });
    const { organization, person, decoded } = await credentialsOf(presentation, options, options.now);
    if (organization.subjectDid !== presentation.holder) throw new TokenError('the presentation signer is not the subject of the X509Credential');
    if (person?.ura !== undefined && person.ura !== organization.ura) {
      throw new TokenError(`the Dezi declaration is for organisation ${person.ura}, not ${organization.ura}`);
    }
    const answered = [{ definition: policy.organization, match: matchDefinition(policy.organization, decoded) }];
    if (person && policy.user) answered.push({ definition: policy.user, match: matchDefinition(policy.user, decoded) });
    if (grantType === VP_TOKEN_BEARER_GRANT) assertSubmission(params.presentation_submission, answered);
    const expiries = [organization.expiresAt, person?.expiresAt].filter((value): value is number => value !== undefined);
    return {
      scope,
      presentation,
      organization,
      ...(person ? { person } : {}),
      claims: Object.assign({}, ...answered.map((entry) => entry.match.claims)) as Record<string, string>,
      ...(typeof params.client_id === 'string' ? { clientId: params.client_id } : {}),
      ...(expiries.length > 0 ? { expiresAt: Math.min(...expiries) } : {}),
    };
  } catch (error) {
    if (error instanceof TokenError) throw invalidRequest(error.message);
    throw error;
  }
}
