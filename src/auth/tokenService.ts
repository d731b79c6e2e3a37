import type { Auditor } from '../audit/auditor.js';
import type { Store } from '../store/repository.js';
import { issueAccessToken, type AccessTokenClaims, type AccessTokenGrant } from './accessToken.js';
import { verifyAssertion, type VerifiedAssertion } from './assertion.js';
import type { AuthorizationCredential, CredentialService } from './credentials.js';
import { invalidClient, invalidGrant, invalidRequest, OAuthError } from './errors.js';
import { TokenError, unverifiedClaims } from './jws.js';
import type { Principal } from './principal.js';
import { isKnownPurpose, PURPOSES } from './purposes.js';
import { createRateLimiter, DEFAULT_TOKEN_RATE_LIMIT, type RateLimit } from './rateLimit.js';
import {
  CLIENT_CREDENTIALS_GRANT,
  CLOCK_SKEW_SECONDS,
  JWT_BEARER_CLIENT_ASSERTION,
  JWT_BEARER_GRANT,
  nowSeconds,
} from './rules.js';
import type { TokenVerifier } from './tokenVerifier.js';
import type { EhrParty, HostedParty, TrustRegistry } from './trust.js';

/**
 * The authorization server without HTTP: the JWT bearer grant for remote organisations (Nuts RFC003 rules of
 * DESIGN §3), client credentials with a private-key JWT (RFC 7523 §2.2) for a tenant's own EHR, and RFC 7662
 * introspection. Every refusal is an OAuthError (RFC 6749 §5.2); every issued or refused token is audited in the
 * authorizer's tenant.
 */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope?: string;
}

export type IntrospectionResponse = { active: false } | ({ active: true; token_type: 'Bearer'; scope?: string } & AccessTokenClaims);

export interface TokenService {
  readonly tokenEndpoint: string;
  exchange(params: Record<string, unknown>): Promise<TokenResponse>;
  introspect(params: Record<string, unknown>): Promise<IntrospectionResponse>;
}

/** Runs writes atomically: a group commit (createAuth) or a plain store transaction. */
export interface AtomicWrites {
  run<T>(work: (tx: Store) => Promise<T>): Promise<T>;
}

export interface TokenServiceDeps {
  registry: TrustRegistry;
  /** The jti records and the token AuditEvents are written here, both in one transaction per token. */
  writes: AtomicWrites;
  credentials: CredentialService;
  verifier: TokenVerifier;
  auditor: Auditor;
  rateLimit?: RateLimit;
  clock?: () => number;
}

const MAX_PRESENTED_CREDENTIALS = 20;

const text = (value: unknown, max = 200) => (typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined);

/** The optional user identity (`usi`) the requesting organisation vouches for by signing the grant. */
function userOf(usi: unknown): Principal['user'] {
  if (usi === undefined) return undefined;
  const user = usi as Record<string, unknown> | null;
  if (typeof user !== 'object' || user === null || Array.isArray(user)) throw new TokenError('usi must be an object {id, name, role}');
  const result = { id: text(user.id), name: text(user.name), role: text(user.role) };
  if (!result.id && !result.name) throw new TokenError('usi needs an id or a name');
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined));
}

interface Grant {
  assertion: VerifiedAssertion;
  authorizer: HostedParty;
  purposeOfUse: string;
  vcs: unknown[];
  user: Principal['user'];
}

export function createTokenService(deps: TokenServiceDeps): TokenService {
  const { registry, writes, credentials, verifier, auditor } = deps;
  const clock = deps.clock ?? Date.now;
  const tokenEndpoint = `${registry.publicBaseUrl}/oauth2/token`;
  const limiter = createRateLimiter(deps.rateLimit ?? DEFAULT_TOKEN_RATE_LIMIT, clock);

  function throttle(requester: string): void {
    const decision = limiter.take(requester);
    if (!decision.allowed) {
      throw new OAuthError('temporarily_unavailable', 'too many token requests; retry later', {
        status: 429,
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }
  }

  /** Records the assertion's jti as used (single use across restarts and instances); false when it was used before. */
  const rememberJti = (tx: Store, kind: string, assertion: VerifiedAssertion) =>
    tx.replay.remember(`${kind}:${assertion.iss}:${assertion.jti}`, new Date((assertion.exp + CLOCK_SKEW_SECONDS) * 1000));

  async function checkGrant(assertion: VerifiedAssertion): Promise<Grant> {
    const authorizer = registry.hosted(assertion.sub);
    if (!authorizer) throw new TokenError(`sub '${assertion.sub}' is not hosted here`);
    const { purposeOfUse, vcs = [], usi } = assertion.claims as { purposeOfUse?: unknown; vcs?: unknown; usi?: unknown };
    if (typeof purposeOfUse !== 'string') throw invalidRequest('purposeOfUse must be a string');
    if (!isKnownPurpose(purposeOfUse)) throw new OAuthError('invalid_scope', `unknown purposeOfUse '${purposeOfUse}'`);
    const role = PURPOSES[purposeOfUse].authorizerRole;
    if (role && !authorizer.organization.roles.includes(role)) {
      throw new OAuthError('invalid_scope', `purposeOfUse '${purposeOfUse}' is granted only by a ${role}; '${assertion.sub}' is none`);
    }
    if (!Array.isArray(vcs) || vcs.length > MAX_PRESENTED_CREDENTIALS) throw new TokenError('vcs must be an array of credentials');
    return { assertion, authorizer, purposeOfUse, vcs, user: userOf(usi) };
  }

  async function presentedCredentials(grant: Grant, now: number): Promise<AuthorizationCredential[]> {
    const expected = { iss: grant.assertion.iss, sub: grant.assertion.sub, purposeOfUse: grant.purposeOfUse };
    const result: AuthorizationCredential[] = [];
    for (const vc of grant.vcs) result.push(await credentials.verifyPresented(vc, expected, now));
    return result;
  }

  /** Audits a refusal in the tenant the request named, if it names one hosted here (claims are unverified then). */
  async function auditRefusal(assertion: unknown, kind: Principal['kind'], error: OAuthError): Promise<void> {
    let claims: { iss?: unknown; sub?: unknown; purposeOfUse?: unknown };
    try {
      claims = unverifiedClaims(String(assertion));
    } catch {
      return;
    }
    const requester = text(claims.iss);
    const tenant = kind === 'ehr' ? registry.ehrClient(requester ?? '')?.tenant : registry.hosted(text(claims.sub) ?? '')?.organization.id;
    if (!tenant || !requester) return;
    await auditor.record({
      type: 'token',
      tenant,
      requester,
      requesterKind: kind,
      purposeOfUse: text(claims.purposeOfUse),
      outcome: 'refused',
      description: `${error.code}: ${error.description}`,
    });
  }

  /**
   * Consumes the assertion's jti, stores the access token and writes the "token issued" AuditEvent in one
   * transaction: the token leaves only when all three are durable, and a replayed jti gets nothing.
   */
  async function issue(
    authorizer: HostedParty,
    grant: AccessTokenGrant,
    consumed: { kind: string; assertion: VerifiedAssertion },
    now: number,
    notAfter?: number,
  ): Promise<TokenResponse> {
    const { token, claims, record } = issueAccessToken(authorizer, registry.publicBaseUrl, grant, now, notAfter);
    const fresh = await writes.run(async (tx) => {
      if (!(await rememberJti(tx, consumed.kind, consumed.assertion))) return false;
      await tx.accessTokens.save(record);
      const issued = {
        tenant: claims.tenant,
        requester: claims.sub,
        requesterKind: claims.kind,
        purposeOfUse: claims.purposeOfUse,
        user: claims.user,
        tokenId: claims.jti,
      };
      await auditor.record({ type: 'token', ...issued, outcome: 'success' }, tx);
      return true;
    });
    if (!fresh) throw new TokenError('jti has been used before');
    verifier.remember(token, claims);
    return { access_token: token, token_type: 'bearer', expires_in: claims.exp - now, ...(claims.purposeOfUse ? { scope: claims.purposeOfUse } : {}) };
  }

  async function jwtBearer(params: Record<string, unknown>): Promise<TokenResponse> {
    const assertion = params.assertion;
    if (typeof assertion !== 'string' || assertion === '') throw invalidRequest('assertion is required');
    const now = nowSeconds(clock);
    try {
      const grant = await checkGrant(
        await verifyAssertion(assertion, {
          audience: tokenEndpoint,
          now,
          typRequired: true,
          isKnownIssuer: (iss) => registry.trusted(iss) !== undefined || registry.hosted(iss) !== undefined,
          key: (iss, fragment) => registry.organizationKey(iss, fragment),
        }),
      );
      throttle(grant.assertion.iss);
      const presented = await presentedCredentials(grant, now);
      const expiries = presented.flatMap((credential) => (credential.expiresAt ? [credential.expiresAt.getTime() / 1000] : []));
      return await issue(
        grant.authorizer,
        {
          sub: grant.assertion.iss,
          kind: 'organization',
          purposeOfUse: grant.purposeOfUse,
          resources: presented.flatMap((credential) => credential.resources),
          credentials: presented.map((credential) => credential.id),
          user: grant.user,
        },
        { kind: 'jwt-bearer', assertion: grant.assertion },
        now,
        expiries.length > 0 ? Math.floor(Math.min(...expiries)) : undefined,
      );
    } catch (error) {
      const refusal = error instanceof TokenError ? invalidGrant(error.message) : error;
      if (refusal instanceof OAuthError && refusal.status !== 429) await auditRefusal(assertion, 'organization', refusal);
      throw refusal;
    }
  }

  async function refuseClient(assertion: unknown, reason: string): Promise<OAuthError> {
    const refusal = invalidClient(reason);
    await auditRefusal(assertion, 'ehr', refusal);
    return refusal;
  }

  /** Authenticates a tenant's EHR by its private-key JWT client assertion (RFC 7523 §2.2); the caller consumes the jti. */
  async function authenticateClient(params: Record<string, unknown>, now: number): Promise<{ client: EhrParty; assertion: VerifiedAssertion }> {
    const { client_assertion: assertion, client_assertion_type: type, client_id: clientId } = params;
    if (typeof assertion !== 'string' || assertion === '') throw invalidRequest('client_assertion is required (private_key_jwt)');
    if (type !== JWT_BEARER_CLIENT_ASSERTION) throw invalidClient(`client_assertion_type must be ${JWT_BEARER_CLIENT_ASSERTION}`);
    let verified: VerifiedAssertion;
    try {
      verified = await verifyAssertion(assertion, {
        audience: tokenEndpoint,
        now,
        typRequired: false,
        isKnownIssuer: (iss) => registry.ehrClient(iss) !== undefined,
        key: async (iss, fragment) => registry.ehrClient(iss)?.keys.get(fragment),
      });
      if (verified.sub !== verified.iss) throw new TokenError('sub must equal iss (the client id)');
      if (clientId !== undefined && clientId !== verified.iss) throw new TokenError('client_id differs from the assertion');
    } catch (error) {
      throw error instanceof TokenError ? await refuseClient(assertion, error.message) : error;
    }
    throttle(verified.iss);
    return { client: registry.ehrClient(verified.iss) as EhrParty, assertion: verified };
  }

  async function clientCredentials(params: Record<string, unknown>): Promise<TokenResponse> {
    const now = nowSeconds(clock);
    const { client, assertion } = await authenticateClient(params, now);
    let user: Principal['user'];
    try {
      user = userOf(assertion.claims.usi);
    } catch (error) {
      throw invalidRequest((error as Error).message);
    }
    const authorizer = registry.hosted(client.tenant) as HostedParty;
    try {
      return await issue(authorizer, { sub: client.client.clientId, kind: 'ehr', resources: [], credentials: [], user }, { kind: 'client-assertion', assertion }, now);
    } catch (error) {
      throw error instanceof TokenError ? await refuseClient(params.client_assertion, `client assertion ${error.message}`) : error;
    }
  }

  return {
    tokenEndpoint,

    async exchange(params) {
      const grantType = params.grant_type;
      if (typeof grantType !== 'string' || grantType === '') throw invalidRequest('grant_type is required');
      if (grantType === JWT_BEARER_GRANT) return jwtBearer(params);
      if (grantType === CLIENT_CREDENTIALS_GRANT) return clientCredentials(params);
      throw new OAuthError('unsupported_grant_type', `grant_type '${grantType}' is not supported`);
    },

    /** RFC 7662 for the tenant's own resource servers: the caller authenticates like an EHR and sees only its tenant's tokens. */
    async introspect(params) {
      const { client, assertion } = await authenticateClient(params, nowSeconds(clock));
      if (!(await writes.run((tx) => rememberJti(tx, 'client-assertion', assertion)))) {
        throw await refuseClient(params.client_assertion, 'client assertion jti has been used before');
      }
      const token = params.token;
      if (typeof token !== 'string' || token === '') throw invalidRequest('token is required');
      try {
        const claims = await verifier.verify(token);
        if (claims.tenant !== client.tenant) return { active: false };
        return { active: true, token_type: 'Bearer', ...(claims.purposeOfUse ? { scope: claims.purposeOfUse } : {}), ...claims };
      } catch (error) {
        if (error instanceof TokenError) return { active: false };
        throw error;
      }
    },
  };
}
