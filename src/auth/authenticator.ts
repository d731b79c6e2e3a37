import { forbidden, unauthorized, type OperationOutcome } from '../fhir/outcome.js';
import { principalOf } from './accessToken.js';
import { REFUSAL_REASON_SYSTEM, type RefusalReason } from '../vocabulary/canonical.js';
import { TokenError } from './jws.js';
import type { AccessRequest, Authenticator, GrantedResource, Principal } from '../fhir/principal.js';
import { consentDecision, type ConsentRule } from './consents.js';
import { basePolicyAllows, CONSENT_PURPOSE } from './purposes.js';
import type { TokenVerifier } from './tokenVerifier.js';

/**
 * The resource-server guard for every FHIR route (both versions) and the notification endpoint. Remote
 * organisations pass only where the purpose's base policy or a granted resource matches path AND operation
 * exactly; a tenant's own EHR may do anything within its tenant (the store scopes it by `principal.tenant`).
 */
export const BEARER_REALM = 'vervolgzorg-gateway';
const RFC6750_ERROR = 'urn:ietf:rfc:6750#error';

type ChallengeError = 'invalid_request' | 'invalid_token';

/**
 * A 401 outcome that remembers its RFC 6750 error code for the WWW-Authenticate challenge, and carries the refusal
 * reason, when there is one the caller acts on, beside it.
 */
function challenge(text: string, error?: ChallengeError, reason?: RefusalReason): OperationOutcome {
  const result = unauthorized(text);
  const reasonCoding = reason ? [{ system: REFUSAL_REASON_SYSTEM, code: reason }] : [];
  if (error) result.issue[0]!.details = { text, coding: [{ system: RFC6750_ERROR, code: error }, ...reasonCoding] };
  return result;
}

const quoted = (text: string) => text.replace(/[^\x20-\x7e]|["\\]/g, ' ');

/**
 * The `WWW-Authenticate` value for a 401 from `authenticate` (RFC 6750 §3): `Bearer realm="vervolgzorg-gateway"`,
 * plus `error` and `error_description` when a token was presented but refused.
 */
export function wwwAuthenticate(outcome?: OperationOutcome): string {
  const details = outcome?.issue[0]?.details;
  const error = details?.coding?.find((coding) => coding.system === RFC6750_ERROR)?.code;
  const parts = [`realm="${BEARER_REALM}"`];
  if (error) parts.push(`error="${error}"`, `error_description="${quoted(details?.text ?? error)}"`);
  return `Bearer ${parts.join(', ')}`;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** vread and instance history are operations on the resource itself: `/Task/1/_history/2` is judged as `/Task/1`. */
function judgedPath(request: AccessRequest): string {
  if (request.operation !== 'vread' && request.operation !== 'history') return request.path;
  return request.path.replace(/\/_history(\/[^/]+)?$/, '');
}

function grants(resource: GrantedResource, path: string, request: AccessRequest, principal: Principal): boolean {
  return resource.path === path && resource.operations.includes(request.operation) && (!resource.userContext || principal.user !== undefined);
}

/**
 * `consents`: the rule a pull of the eOverdracht sender is judged by (auth/consents.ts). A token of that purpose passes
 * where its base policy matches (a batch, whose entries are judged one by one) or where a Consent allows it, never
 * on credentials; without the rule, it passes on its base policy only.
 */
export function createAuthenticator(verifier: TokenVerifier, consents?: ConsentRule): Authenticator {
  return {
    async authenticate(authorization) {
      if (!authorization) return challenge('A bearer access token is required');
      const match = BEARER.exec(authorization.trim());
      if (!match) {
        return /^bearer\b/i.test(authorization.trim())
          ? challenge('Malformed bearer token', 'invalid_request')
          : challenge('A bearer access token is required');
      }
      try {
        return principalOf(await verifier.verify(match[1] as string));
      } catch (error) {
        if (error instanceof TokenError) return challenge(`Access token refused: ${error.message}`, 'invalid_token', error.reason);
        throw error;
      }
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
      const needsUser = principal.resources.some((resource) => resource.path === path && resource.userContext) && !principal.user;
      return forbidden(
        needsUser
          ? `${request.operation} ${path} requires a user context (usi) in the grant`
          : `${request.operation} ${path} is not granted to '${principal.requester}' for purpose '${principal.purposeOfUse ?? '-'}'`,
      );
    },
  };
}
