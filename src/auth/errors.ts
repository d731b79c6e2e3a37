import { GatewayError } from '../errors.js';
import { REFUSAL_REASON_PARAMETER, type RefusalReason } from '../vocabulary/canonical.js';

/**
 * RFC 6749 §5.2 error codes (plus `temporarily_unavailable`, RFC 6749 §4.1.2.1, for rate limiting; `invalid_target`,
 * RFC 8707 §2; `invalid_dpop_proof`, RFC 9449 §5).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof';

/**
 * A refusal at the authorization server, answered as an RFC 6749 JSON error body (never an OperationOutcome): `error`
 * is its RFC 6749 code, and a refusal another gateway acts on adds its reason code (REFUSAL_REASON_PARAMETER).
 */
export class OAuthError extends GatewayError {
  static override readonly code = 'ERR_OAUTH_REFUSAL';
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly reason?: RefusalReason;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    options: { status?: number; retryAfterSeconds?: number; reason?: RefusalReason } = {},
  ) {
    super(`${error}: ${description}`);
    this.status = options.status ?? (error === 'invalid_client' ? 401 : 400);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason;
  }

  get body(): { error: OAuthErrorCode; error_description: string; [REFUSAL_REASON_PARAMETER]?: RefusalReason } {
    return { error: this.error, error_description: this.description, ...(this.reason ? { [REFUSAL_REASON_PARAMETER]: this.reason } : {}) };
  }
}

export const invalidGrant = (description: string, reason?: RefusalReason) => new OAuthError('invalid_grant', description, { reason });
export const invalidRequest = (description: string) => new OAuthError('invalid_request', description);
export const invalidClient = (description: string) => new OAuthError('invalid_client', description);
