import { forbidden, unauthorized, type OperationOutcome } from '../fhir/outcome.js';
import { principalOf, type AccessTokenClaims } from './accessToken.js';
import { DPOP_ALGORITHMS, DpopProofError, type DpopVerifier } from './dpop/index.js';
import { REFUSAL_REASON_SYSTEM, type RefusalReason } from '../vocabulary/canonical.js';
import { TokenError } from './jws.js';
import type { AccessRequest, Authenticator, GrantedResource, PresentedRequest, Principal } from '../fhir/principal.js';
import { consentDecision, userIdentityRequired, type ConsentRule } from './consents.js';
import { basePolicyAllows, CONSENT_PURPOSE } from './purposes.js';
import type { TokenVerifier } from './tokenVerifier.js';

/**
 * The resource-server guard for every FHIR route (both versions) and the notification endpoint. Remote
 * organisations pass only where the purpose's base policy or a granted resource matches path AND operation
 * exactly; a tenant's own EHR may do anything within its tenant (the store scopes it by `principal.tenant`).
 */
export const BEARER_REALM = 'vervolgzorg-gateway';
/** The error code of a challenge, by the scheme it is for: RFC 6750 for Bearer, RFC 9449 §7.1 for DPoP. */
const CHALLENGE_ERROR = { Bearer: 'urn:ietf:rfc:6750#error', DPoP: 'urn:ietf:rfc:9449#error' } as const;
type Scheme = keyof typeof CHALLENGE_ERROR;

type ChallengeError = 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof';

/**
 * A 401 outcome that remembers its error code and scheme for the WWW-Authenticate challenge, and carries the refusal
 * reason, when there is one the caller acts on, beside it.
 */
function challenge(text: string, error?: ChallengeError, reason?: RefusalReason, scheme: Scheme = 'Bearer'): OperationOutcome {
  const result = unauthorized(text);
  const reasonCoding = reason ? [{ system: REFUSAL_REASON_SYSTEM, code: reason }] : [];
  if (error) result.issue[0]!.details = { text, coding: [{ system: CHALLENGE_ERROR[scheme], code: error }, ...reasonCoding] };
  return result;
}

const quoted = (text: string) => text.replace(/[^\x20-\x7e]|["\\]/g, ' ');

/**
 * The `WWW-Authenticate` value for a 401 from `authenticate` (RFC 6750 §3): `Bearer realm="vervolgzorg-gateway"`,
 * plus `error` and `error_description` when a token was presented but refused; a refused DPoP token or proof gets the
 * DPoP challenge with the algorithms accepted (RFC 9449 §7.1).
 */
export function wwwAuthenticate(outcome?: OperationOutcome): string {
  const details = outcome?.issue[0]?.details;
  const schemes = Object.keys(CHALLENGE_ERROR) as Scheme[];
  const scheme = schemes.find((name) => details?.coding?.some((coding) => coding.system === CHALLENGE_ERROR[name])) ?? 'Bearer';
  const error = details?.coding?.find((coding) => coding.system === CHALLENGE_ERROR[scheme])?.code;
  const parts = [`realm="${BEARER_REALM}"`];
  if (error) parts.push(`error="${error}"`, `error_description="${quoted(details?.text ?? error)}"`);
  if (scheme === 'DPoP') parts.push(`algs="${DPOP_ALGORITHMS.join(' ')}"`);
  return `${scheme} ${parts.join(', ')}`;
}

/** `Bearer <token>` (RFC 6750 §2.1) or `DPoP <token>` (RFC 9449 §7.1); the token68 syntax of both. */
const AUTHORIZATION = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i;

/** vread and instance history are operations on the resource itself: `/Task/1/_history/2` is judged as `/Task/1`. */
function judgedPath(request: AccessRequest): string {
  if (request.operation !== 'vread' && request.operation !== 'history') return request.path;
  return request.path.replace(/\/_history(\/[^/]+)?$/, '');
}

function grants(resource: GrantedResource, path: string, request: AccessRequest, principal: Principal): boolean {
  return resource.path === path && resource.operations.includes(request.operation) && (!resource.userContext || principal.person !== undefined);
}

/**
 * `consents`: the rule a pull of the eOverdracht sender is judged by (auth/consents.ts). A token of that purpose passes
 * where its base policy matches (a batch, whose entries are judged one by one) or where a Consent allows it, never
 * on credentials; without the rule, it passes on its base policy only.
 */
export function createAuthenticator(verifier: TokenVerifier, dpop: DpopVerifier, consents?: ConsentRule): Authenticator {
  /**
   * RFC 9449 §7: a DPoP-bound token only with the DPoP scheme and a proof of its key for this very request; a bearer
   * token never under the DPoP scheme.
   */
  async function checkBinding(scheme: Scheme, token: string, claims: AccessTokenClaims, request: PresentedRequest): Promise<OperationOutcome | undefined> {
    if (scheme === 'Bearer') {
      return claims.cnf ? challenge('Access token refused: a DPoP-bound token must be sent with the DPoP scheme and a proof', 'invalid_token', undefined, 'DPoP') : undefined;
    }
    if (!claims.cnf) return challenge('Access token refused: the token is not DPoP-bound; send it as Bearer', 'invalid_token', undefined, 'DPoP');
    try {
      await dpop.verify(request.dpop, { htm: request.method, htu: request.url, accessToken: token, jkt: claims.cnf.jkt });
      return undefined;
    } catch (error) {
      if (error instanceof DpopProofError) return challenge(`DPoP proof refused: ${error.message}`, 'invalid_dpop_proof', undefined, 'DPoP');
      throw error;
    }
  }

  return {
    async authenticate(authorization, request) {
      if (!authorization) return challenge('A bearer access token is required');
      const match = AUTHORIZATION.exec(authorization.trim());
      if (!match) {
        const scheme = /^(bearer|dpop)\b/i.exec(authorization.trim())?.[1];
        if (!scheme) return challenge('A bearer access token is required');
        return challenge(`Malformed ${scheme} token`, 'invalid_request', undefined, scheme.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer');
      }
      const scheme: Scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
      const token = match[2]!;
      let claims: AccessTokenClaims;
      try {
        claims = await verifier.verify(token);
      } catch (error) {
        if (error instanceof TokenError) return challenge(`Access token refused: ${error.message}`, 'invalid_token', error.reason, scheme);
        throw error;
      }
      return (await checkBinding(scheme, token, claims, request)) ?? principalOf(claims);
    },

    async authorize(principal, request) {
      if (principal.kind === 'ehr') return undefined;
      const endpoint = request.endpoint ?? 'fhir';
      const path = judgedPath(request);
      if (basePolicyAllows(principal.purposeOfUse, endpoint, path, request.operation)) return undefined;
      if (principal.purposeOfUse === CONSENT_PURPOSE) {
        return consents ? consentDecision(consents, principal, request) : forbidden(`${request.operation} ${path} needs a Consent, and none is kept here`);
      }
      if (endpoint === 'fhir' && principal.resources.some((resource) => grants(resource, path, request, principal))) return undefined;
      const needsPerson = principal.resources.some((resource) => resource.path === path && resource.userContext) && !principal.person;
      if (needsPerson) return userIdentityRequired({ ...request, path });
      return forbidden(`${request.operation} ${path} is not granted to '${principal.requester}' for purpose '${principal.purposeOfUse ?? '-'}'`);
    },
  };
}
