import { JWT_BEARER_GRANT, SIGNING_ALGORITHMS } from '../rules.js';
import { VP_TOKEN_BEARER_GRANT } from './presentationGrant.js';
import { DPOP_ALGORITHMS } from '../dpop/index.js';
import type { AcceptedGrant } from '../../config/config.js';

/**
 * The authorization server of one hosted organisation as nuts-node v6 serves it: issuer
 * `{publicBaseUrl}/oauth2/{subject}`, its RFC 8414 metadata at `/.well-known/oauth-authorization-server/oauth2/{subject}`
 * (the well-known part inserted at the root, RFC 8414 §3.1), token and presentation_definition under the issuer.
 */
export const issuerOf = (publicBaseUrl: string, subject: string) => `${publicBaseUrl}/oauth2/${encodeURIComponent(subject)}`;

/** The presentation and credential formats accepted, under both names the metadata gives them. */
const VP_FORMATS = {
  jwt_vp_json: { alg_values_supported: ['ES256'] },
  jwt_vc_json: { alg_values_supported: ['ES256', 'PS256'] },
};

/** The Nuts v6 grants of ACCEPTED_GRANTS by their grant_type, vp_token-bearer first. */
const V6_GRANT_TYPES: [AcceptedGrant, string][] = [
  ['vp_token-bearer', VP_TOKEN_BEARER_GRANT],
  ['jwt-bearer', JWT_BEARER_GRANT],
];

export function authorizationServerMetadata(publicBaseUrl: string, subject: string, accepted: readonly AcceptedGrant[]) {
  const issuer = issuerOf(publicBaseUrl, subject);
  return {
    issuer,
    token_endpoint: `${issuer}/token`,
    presentation_definition_endpoint: `${issuer}/presentation_definition`,
    // vp_token-bearer first: a Nuts client takes it when listed (nuts-node auth/client/iam/openid4vp.go).
    grant_types_supported: V6_GRANT_TYPES.filter(([grant]) => accepted.includes(grant)).map(([, grantType]) => grantType),
    response_types_supported: [],
    did_methods_supported: ['web'],
    vp_formats_supported: VP_FORMATS,
    vp_formats: VP_FORMATS,
    token_endpoint_auth_methods_supported: ['none'],
    client_id_schemes_supported: ['entity_id'],
    signing_alg_values_supported: [...SIGNING_ALGORITHMS],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}
