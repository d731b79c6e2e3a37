/** The grant rules of DESIGN §3 in one place, so the authorization server and the client agree on them. */

/** Asymmetric JWS algorithms only: never `none`, never an HMAC (a public key must not become a shared secret). */
export const SIGNING_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

/** Tolerated difference between our clock and the signer's. */
export const CLOCK_SKEW_SECONDS = 5;
/** A grant or client assertion may live at most this long (`exp - iat`). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 5;
/** Access tokens issued here live at most this long. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 60;
/** The client side stops using a cached access token this long before it expires. */
export const TOKEN_REFRESH_MARGIN_SECONDS = 30;

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const CLIENT_CREDENTIALS_GRANT = 'client_credentials';
export const JWT_BEARER_CLIENT_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** JOSE `typ` values, one per kind of token, so that no token can be replayed as another kind (RFC 8725 §3.11). */
export const TOKEN_TYPES = {
  grant: 'JWT',
  credential: 'vc+jwt',
} as const;

export const nowSeconds = (clock: () => number = Date.now) => Math.floor(clock() / 1000);
