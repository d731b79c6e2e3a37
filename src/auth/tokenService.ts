import type { Auditor, TokenAudit, UnverifiedTokenAudit } from '../audit/auditor.js';
import { ACCEPTED_GRANTS, type AcceptedGrant } from '../config/config.js';
import { isObject } from '../vocabulary/json.js';
import type { UnitOfWork } from '../store/repository.js';
import { issueAccessToken, type AccessTokenClaims, type AccessTokenGrant } from './accessToken.js';
import { verifyAssertion, type VerifiedAssertion } from './assertion.js';
import type { AuthorizationCredential, CredentialService } from './credentials.js';
import { verifyDeziIdToken, withoutDezi } from './credentials/person.js';
import type { DeziSealer } from './credentials/sealedDezi.js';
import { invalidClient, invalidGrant, invalidRequest, OAuthError } from './errors.js';
import { TokenError, unverifiedClaims } from './jws.js';
import { issuerOf } from './oauth2/metadata.js';
import { scopePolicy, VP_TOKEN_BEARER_GRANT, type PresentationGrantOptions, type VerifiedPresentationGrant } from './oauth2/presentationGrant.js';
import type { PresentationVerifier } from './oauth2/presentationVerifier.js';
import type { PresentationDefinition } from './oauth2/presentationExchange.js';
import type { Principal } from '../fhir/principal.js';
import { isKnownPurpose, PURPOSES } from './purposes.js';
import { createRateLimiter, createSampler, DEFAULT_TOKEN_RATE_LIMIT, type RateDecision, type RateLimit } from './rateLimit.js';
import {
  CLIENT_CREDENTIALS_GRANT,
  CLOCK_SKEW_SECONDS,
  JWT_BEARER_CLIENT_ASSERTION,
  JWT_BEARER_GRANT,
  nowSeconds,
} from './rules.js';
import type { TokenVerifier } from './tokenVerifier.js';
import { tokenBinding, type DpopVerifier } from './dpop/index.js';
import type { EhrParty, HostedParty, TrustRegistry } from './trust.js';

/**
 * The authorization server without HTTP: the JWT bearer grant for remote organisations (Nuts RFC003 rules of
 * DESIGN §3), client credentials with a private-key JWT (RFC 7523 §2.2) for a tenant's own EHR, the Nuts v6 grants
 * of each hosted organisation's authorization server (exchangeAt), and RFC 7662 introspection. Every refusal is an OAuthError (RFC 6749 §5.2); every issued or refused token is audited in the
 * authorizer's tenant, a refusal before the assertion was verified as a claim from a client address (docs/auth.md).
 */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` for a token bound to the key of the request's DPoP proof (RFC 9449 §5). */
  token_type: 'bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
}

export type IntrospectionResponse = { active: false } | ({ active: true; token_type: 'Bearer' | 'DPoP'; scope?: string } & AccessTokenClaims);

/** Where a request came from, as far as the network says (nothing in it is verified). */
export interface RequestSource {
  /** The client's IP address. */
  address?: string;
  /** The request's DPoP header(s): a proof asks for a token bound to its key (RFC 9449). */
  dpop?: string | string[];
}

export interface TokenService {
  readonly tokenEndpoint: string;
  /** The grants other organisations may use here (`nuts.acceptedGrants`); the metadata lists only these. */
  readonly acceptedGrants: readonly AcceptedGrant[];
  exchange(params: Record<string, unknown>, source?: RequestSource): Promise<TokenResponse>;
  /**
   * The token endpoint of one hosted organisation's authorization server (Nuts v6, `{publicBaseUrl}/oauth2/{subject}`):
   * `vp_token-bearer` (RFC021) and the generic functions' `jwt-bearer`.
   */
  exchangeAt(subject: string, params: Record<string, unknown>, source?: RequestSource): Promise<TokenResponse>;
  /** RFC021 §5: the Presentation Definition of a scope (`organization`, or `user` for the person's credentials). */
  presentationDefinition(subject: string, scope: unknown, walletOwnerType?: unknown): PresentationDefinition;
  introspect(params: Record<string, unknown>, source?: RequestSource): Promise<IntrospectionResponse>;
}

/** Runs writes atomically: a group commit (createAuth) or a plain store transaction. */
export interface AtomicWrites {
  run<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T>;
}

export interface TokenServiceDeps {
  registry: TrustRegistry;
  /** The jti records and the token AuditEvents are written here, both in one transaction per token. */
  writes: AtomicWrites;
  credentials: CredentialService;
  verifier: TokenVerifier;
  dpop: DpopVerifier;
  auditor: Auditor;
  /** Per verified requester (default 50 at once, 20/s). */
  rateLimit?: RateLimit;
  /** Refused requests per client address (config.rateLimits.unauthenticated). */
  unauthenticatedRateLimit: RateLimit;
  /** Default: all of them (config ACCEPTED_GRANTS). */
  acceptedGrants?: readonly AcceptedGrant[];
  /**
   * What the Nuts v6 grants accept (policies, trusted CAs, Dezi keys) and the threads that check them; without it
   * exchangeAt supports no grant.
   */
  presentations?: Omit<PresentationGrantOptions, 'key'> & { verifier: PresentationVerifier };
  /** Seals the Dezi id_token an EHR hands over before it goes into the token's record (with `presentations.dezi`). */
  deziSealer?: DeziSealer;
  clock?: () => number;
}

const MAX_PRESENTED_CREDENTIALS = 20;

/** A value that may be used once (a jti, a nonce), remembered until it could no longer be accepted anyway. */
interface SingleUse {
  key: string;
  until: Date;
}
/** Unverified refusals from one address to one tenant: the first of each minute is audited, the rest counted. */
const UNVERIFIED_AUDIT_WINDOW_MS = 60_000;

/**
 * The Presentation Definition field claims at the top level of an introspection response, as nuts-node returns them
 * (`organization_ura`, `organization_name`, ...); the standard claims that follow them always win.
 */
const presentationClaimsOf = (claims: AccessTokenClaims): Record<string, string> => claims.presentationClaims ?? {};

/** The `iss` an assertion claims, read only to audit a refusal under it as a claim. */
function safeIssuer(assertion: string): unknown {
  try {
    return unverifiedClaims(assertion).iss;
  } catch {
    return undefined;
  }
}

const text = (value: unknown, max = 200) => (typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined);

/** The optional person (`usi`: {id, name, role?}) the requesting organisation vouches for by signing the grant. */
function personOf(usi: unknown): Principal['person'] {
  if (usi === undefined) return undefined;
  if (!isObject(usi)) throw new TokenError('usi must be an object {id, name, role}');
  const [identifier, name, role] = [text(usi.id), text(usi.name), text(usi.role)];
  if (!identifier || !name) throw new TokenError('usi needs an id and a name');
  return { identifier, name, ...(role ? { role } : {}) };
}

interface Grant {
  assertion: VerifiedAssertion;
  authorizer: HostedParty;
  purposeOfUse: string;
  vcs: unknown[];
  person: Principal['person'];
}

export function createTokenService(deps: TokenServiceDeps): TokenService {
  const { registry, writes, credentials, verifier, auditor } = deps;
  const clock = deps.clock ?? Date.now;
  const tokenEndpoint = `${registry.publicBaseUrl}/oauth2/token`;
  const limiter = createRateLimiter(deps.rateLimit ?? DEFAULT_TOKEN_RATE_LIMIT, clock);
  const refusalsPerAddress = createRateLimiter(deps.unauthenticatedRateLimit, clock);
  const unverifiedAudits = createSampler(UNVERIFIED_AUDIT_WINDOW_MS, clock);

  function refuseWhenLimited(decision: RateDecision, what: string): void {
    if (!decision.allowed) {
      throw new OAuthError('temporarily_unavailable', `too many ${what}; retry later`, { status: 429, retryAfterSeconds: decision.retryAfterSeconds });
    }
  }

  const throttle = (requester: string) => refuseWhenLimited(limiter.take(requester), 'token requests');

  /**
   * Requests from an address whose refusals have used up its bucket get 429 before any signature work or audit
   * write; every other refusal spends one request of the bucket. Valid requests spend nothing here, so a gateway
   * behind one address (a NAT, an ingress) is limited only per verified requester.
   */
  async function limitedPerAddress<T>(source: RequestSource, work: () => Promise<T>): Promise<T> {
    const address = source.address ?? '';
    refuseWhenLimited(refusalsPerAddress.check(address), 'refused requests from this address');
    try {
      return await work();
    } catch (error) {
      if (error instanceof OAuthError && error.status !== 429) refusalsPerAddress.take(address);
      throw error;
    }
  }

  /** What single use of an assertion's jti records (across restarts and instances) and until when. */
  const jtiOf = (kind: string, assertion: VerifiedAssertion): SingleUse => ({
    key: `${kind}:${assertion.iss}:${assertion.jti}`,
    until: new Date((assertion.exp + CLOCK_SKEW_SECONDS) * 1000),
  });

  /** Records every value as used; false when one was used before. */
  async function rememberAll(tx: UnitOfWork, values: SingleUse[]): Promise<boolean> {
    for (const value of values) if (!(await tx.replay.remember(value.key, value.until))) return false;
    return true;
  }

  const basePath = new URL(registry.publicBaseUrl).pathname.replace(/\/$/, '');

  /**
   * RFC 8707 §2: the resource indicator, when sent, is an absolute URL without query or fragment, whose path lies under
   * this gateway's (its origin is the requester's way here, which a proxy may change; the grant's `aud` already binds
   * it to this gateway); `invalid_target` otherwise. Only its form is checked: what a token opens comes from the
   * presented credentials, the purpose's base policy and the tenant's Consents.
   */
  function checkResourceIndicator(resource: unknown): void {
    if (resource === undefined) return;
    const url = typeof resource === 'string' && URL.canParse(resource) ? new URL(resource) : undefined;
    if (!url || url.search !== '' || url.hash !== '' || !url.pathname.startsWith(`${basePath}/`)) {
      throw new OAuthError('invalid_target', `resource must be an absolute URL under ${registry.publicBaseUrl}/ without query or fragment`);
    }
  }

  /** The purpose's authorizer role (purposes.ts), which every grant checks; `parameter` names where the grant carried it. */
  function assertAuthorizerRole(authorizer: HostedParty, purposeOfUse: string, parameter: 'purposeOfUse' | 'scope'): void {
    const role = PURPOSES[purposeOfUse]?.authorizerRole;
    if (role && !authorizer.organization.roles.includes(role)) {
      throw new OAuthError('invalid_scope', `${parameter} '${purposeOfUse}' is granted only by a ${role}; '${authorizer.organization.id}' is none`);
    }
  }

  async function checkGrant(assertion: VerifiedAssertion, resource: unknown): Promise<Grant> {
    const authorizer = registry.hosted(assertion.sub);
    if (!authorizer) throw new TokenError(`sub '${assertion.sub}' is not hosted here`);
    const { purposeOfUse, vcs = [], usi } = assertion.claims;
    if (typeof purposeOfUse !== 'string') throw invalidRequest('purposeOfUse must be a string');
    if (!isKnownPurpose(purposeOfUse)) throw new OAuthError('invalid_scope', `unknown purposeOfUse '${purposeOfUse}'`);
    assertAuthorizerRole(authorizer, purposeOfUse, 'purposeOfUse');
    if (!Array.isArray(vcs) || vcs.length > MAX_PRESENTED_CREDENTIALS) throw new TokenError('vcs must be an array of credentials');
    const person = personOf(usi);
    checkResourceIndicator(resource);
    return { assertion, authorizer, purposeOfUse, vcs, person };
  }

  async function presentedCredentials(grant: Grant, now: number): Promise<AuthorizationCredential[]> {
    const expected = { iss: grant.assertion.iss, sub: grant.assertion.sub, purposeOfUse: grant.purposeOfUse };
    const result: AuthorizationCredential[] = [];
    for (const vc of grant.vcs) result.push(await credentials.verifyPresented(vc, expected, now));
    return result;
  }

  const tenantNamed = (kind: Principal['kind'], iss: string | undefined, sub: string | undefined) =>
    kind === 'ehr' ? registry.ehrClient(iss ?? '')?.tenant : registry.hosted(sub ?? '')?.organization.id;

  /** The OAuth refusal of a failed check: a grant's is invalid_grant, a client assertion's invalid_client. */
  const refusalOf = (error: unknown, kind: Principal['kind']) =>
    error instanceof TokenError ? (kind === 'ehr' ? invalidClient(error.message) : invalidGrant(error.message, error.reason)) : error;

  /**
   * A refusal before the assertion was verified, audited in the tenant the request named (if hosted here) as a claim
   * from its client address, never under the claimed identity; a flood from one address writes one event a minute.
   */
  async function refuseUnverified(error: unknown, assertion: string, kind: Principal['kind'], source: RequestSource): Promise<unknown> {
    const refusal = refusalOf(error, kind);
    if (!(refusal instanceof OAuthError)) return refusal;
    let claims: { iss?: unknown; sub?: unknown; purposeOfUse?: unknown };
    try {
      claims = unverifiedClaims(assertion);
    } catch {
      return refusal;
    }
    const claimed = { iss: text(claims.iss), sub: text(claims.sub), purposeOfUse: text(claims.purposeOfUse) };
    return auditUnverified(refusal, tenantNamed(kind, claimed.iss, claimed.sub), claimed, kind, source);
  }

  /** Audits an unverified refusal in the tenant it named, sampled per tenant and address (refuseUnverified). */
  async function auditUnverified(
    refusal: OAuthError,
    tenant: string | undefined,
    claimed: UnverifiedTokenAudit['claimed'],
    kind: Principal['kind'],
    source: RequestSource,
  ): Promise<OAuthError> {
    const unrecorded = tenant === undefined ? undefined : unverifiedAudits.admit(`${tenant} ${source.address ?? ''}`);
    if (tenant === undefined || unrecorded === undefined) return refusal;
    await auditor.record({
      type: 'unverified-token',
      tenant,
      requesterKind: kind,
      claimed,
      clientAddress: source.address,
      description: `${refusal.error}: ${refusal.description}`,
      ...(unrecorded > 0 ? { unrecorded } : {}),
    });
    return refusal;
  }

  /** A refusal after the signature was verified, audited under the requester it proved to be. */
  async function refuseVerified(error: unknown, assertion: VerifiedAssertion, kind: Principal['kind'], source: RequestSource): Promise<unknown> {
    const refusal = refusalOf(error, kind);
    const tenant = tenantNamed(kind, assertion.iss, assertion.sub);
    if (refusal instanceof OAuthError && tenant !== undefined) {
      await auditVerified(refusal, { tenant, requester: assertion.iss, requesterKind: kind, purposeOfUse: text(assertion.claims.purposeOfUse) }, source);
    }
    return refusal;
  }

  /** Audits a refusal (not a rate limit) under the requester its signature proved. */
  async function auditVerified(
    refusal: OAuthError,
    who: Pick<TokenAudit, 'tenant' | 'requester' | 'requesterKind' | 'purposeOfUse' | 'organization' | 'person'>,
    source: RequestSource,
  ): Promise<void> {
    if (refusal.status === 429) return;
    await auditor.record({ type: 'token', ...who, outcome: 'refused', description: `${refusal.error}: ${refusal.description}`, clientAddress: source.address });
  }

  /**
   * Consumes the assertion's jti, stores the access token and writes the "token issued" AuditEvent in one
   * transaction: the token leaves only when all three are durable, and a replayed jti gets nothing.
   */
  async function issue(
    authorizer: HostedParty,
    grant: AccessTokenGrant,
    consumed: { values: SingleUse[]; replayed: string; grantType: TokenAudit['grantType'] },
    now: number,
    notAfter?: number,
  ): Promise<TokenResponse> {
    const { token, claims, record } = issueAccessToken(authorizer, registry.publicBaseUrl, grant, now, notAfter);
    const fresh = await writes.run(async (tx) => {
      if (!(await rememberAll(tx, consumed.values))) return false;
      await tx.accessTokens.save(record);
      const issued = {
        tenant: claims.tenant,
        requester: claims.sub,
        requesterKind: claims.kind,
        purposeOfUse: claims.purposeOfUse,
        organization: claims.organization,
        person: claims.person,
        tokenId: claims.jti,
        grantType: consumed.grantType,
        tokenType: claims.cnf ? ('DPoP' as const) : ('Bearer' as const),
      };
      await auditor.record({ type: 'token', ...issued, outcome: 'success' }, tx);
      return true;
    });
    if (!fresh) throw new TokenError(consumed.replayed);
    verifier.remember(token, claims);
    return { access_token: token, token_type: claims.cnf ? 'DPoP' : 'bearer', expires_in: claims.exp - now, ...(claims.purposeOfUse ? { scope: claims.purposeOfUse } : {}) };
  }

  async function jwtBearer(params: Record<string, unknown>, source: RequestSource, cnf: AccessTokenGrant['cnf']): Promise<TokenResponse> {
    const assertion = params.assertion;
    if (typeof assertion !== 'string' || assertion === '') throw invalidRequest('assertion is required');
    const now = nowSeconds(clock);
    let verified: VerifiedAssertion;
    try {
      verified = await verifyAssertion(assertion, {
        audience: tokenEndpoint,
        now,
        typRequired: true,
        isKnownIssuer: (iss) => registry.trusted(iss) !== undefined || registry.hosted(iss) !== undefined,
        key: (iss, fragment) => registry.organizationKey(iss, fragment),
      });
    } catch (error) {
      throw await refuseUnverified(error, assertion, 'organization', source);
    }
    try {
      const grant = await checkGrant(verified, params.resource);
      throttle(verified.iss);
      const presented = await presentedCredentials(grant, now);
      const expiries = presented.flatMap((credential) => (credential.expiresAt ? [credential.expiresAt.getTime() / 1000] : []));
      return await issue(
        grant.authorizer,
        {
          sub: verified.iss,
          kind: 'organization',
          purposeOfUse: grant.purposeOfUse,
          resources: presented.flatMap((credential) => credential.resources),
          credentials: presented.map((credential) => credential.id),
          person: grant.person,
          cnf,
        },
        { values: [jtiOf('jwt-bearer', verified)], replayed: 'jti has been used before', grantType: 'rfc003' },
        now,
        expiries.length > 0 ? Math.floor(Math.min(...expiries)) : undefined,
      );
    } catch (error) {
      throw await refuseVerified(error, verified, 'organization', source);
    }
  }

  /** Authenticates a tenant's EHR by its private-key JWT client assertion (RFC 7523 §2.2); the caller consumes the jti. */
  async function authenticateClient(
    params: Record<string, unknown>,
    now: number,
    source: RequestSource,
  ): Promise<{ client: EhrParty; assertion: VerifiedAssertion }> {
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
    } catch (error) {
      throw await refuseUnverified(error, assertion, 'ehr', source);
    }
    try {
      if (verified.sub !== verified.iss) throw new TokenError('sub must equal iss (the client id)');
      if (clientId !== undefined && clientId !== verified.iss) throw new TokenError('client_id differs from the assertion');
    } catch (error) {
      throw await refuseVerified(error, verified, 'ehr', source);
    }
    throttle(verified.iss);
    return { client: registry.ehrClient(verified.iss) as EhrParty, assertion: verified };
  }

  /**
   * The person a tenant's EHR names by the Dezi id_token it passes (the client assertion's `dezi_id_token`): verified
   * against the Dezi key set, for the tenant's own URA, and sealed at once (it goes into the token's record); the
   * token issued lives no longer than the id_token.
   */
  async function deziPersonOf(idToken: unknown, authorizer: HostedParty, now: number): Promise<{ person: Principal['person']; exp?: number }> {
    if (typeof idToken !== 'string' || idToken === '') throw invalidRequest('dezi_id_token must be a Dezi id_token (a JWT)');
    const trust = deps.presentations?.dezi;
    const sealer = deps.deziSealer;
    if (!trust || !sealer) throw invalidRequest('dezi_id_token is not accepted here: no Dezi key set is configured (nuts.dezi)');
    const verified = await verifyDeziIdToken(idToken, trust, now).catch((error: unknown) => {
      throw error instanceof TokenError ? invalidGrant(`dezi_id_token refused: ${error.message}`) : error;
    });
    const { ura, id } = authorizer.organization;
    if (verified.ura !== ura) throw invalidGrant(`dezi_id_token refused: it is for organisation ${verified.ura}, not '${id}' (URA ${ura ?? 'none configured'})`);
    const { person, expiresAt } = verified;
    return { person: { ...person, dezi: sealer.seal(idToken, { tenant: id, person: person.identifier }, expiresAt) }, exp: expiresAt };
  }

  /** The person the EHR's client assertion names: `usi` (the gateway vouches for it) or `dezi_id_token`, not both. */
  async function ehrPersonOf(claims: VerifiedAssertion['claims'], authorizer: HostedParty, now: number): Promise<{ person: Principal['person']; exp?: number }> {
    if (claims.dezi_id_token === undefined) {
      try {
        return { person: personOf(claims.usi) };
      } catch (error) {
        throw invalidRequest((error as Error).message);
      }
    }
    if (claims.usi !== undefined) throw invalidRequest('name the person once: usi or dezi_id_token, not both');
    return deziPersonOf(claims.dezi_id_token, authorizer, now);
  }

  async function clientCredentials(params: Record<string, unknown>, source: RequestSource, cnf: AccessTokenGrant['cnf']): Promise<TokenResponse> {
    const now = nowSeconds(clock);
    const { client, assertion } = await authenticateClient(params, now, source);
    const authorizer = registry.hosted(client.tenant) as HostedParty;
    try {
      const { person, exp } = await ehrPersonOf(assertion.claims, authorizer, now);
      const grant = { sub: client.client.clientId, kind: 'ehr' as const, resources: [], credentials: [], person, cnf };
      return await issue(authorizer, grant, { values: [jtiOf('client-assertion', assertion)], replayed: 'jti has been used before', grantType: 'client_credentials' }, now, exp);
    } catch (error) {
      const refusal = error instanceof TokenError ? new TokenError(`client assertion ${error.message}`) : error;
      throw await refuseVerified(refusal, assertion, 'ehr', source);
    }
  }

  const hostedSubject = (subject: string) => {
    const authorizer = registry.hosted(subject);
    if (!authorizer) throw new OAuthError('invalid_request', `no authorization server '${subject}' here`, { status: 404 });
    return authorizer;
  };

  /** The grant's single-use values: the nonce (RFC021 §4.4) and, when present, the jti, both per holder. */
  const presentationUses = ({ presentation }: VerifiedPresentationGrant): SingleUse[] => {
    const until = new Date((presentation.exp + CLOCK_SKEW_SECONDS) * 1000);
    const uses = [{ key: `vp-nonce:${presentation.holder}:${presentation.nonce}`, until }];
    if (presentation.jti) uses.push({ key: `vp-jti:${presentation.holder}:${presentation.jti}`, until });
    return uses;
  };

  async function presentationGrant(
    authorizer: HostedParty,
    grantType: typeof VP_TOKEN_BEARER_GRANT | 'jwt-bearer',
    params: Record<string, unknown>,
    source: RequestSource,
    cnf: AccessTokenGrant['cnf'],
  ) {
    const { verifier } = deps.presentations as NonNullable<TokenServiceDeps['presentations']>;
    const now = nowSeconds(clock);
    let verified: VerifiedPresentationGrant;
    try {
      verified = await verifier.verify(params, grantType, { key: registry.didKey, issuer: issuerOf(registry.publicBaseUrl, authorizer.organization.id), now });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      const claimed = { sub: authorizer.organization.id, purposeOfUse: text(params.scope), iss: text(typeof params.assertion === 'string' ? safeIssuer(params.assertion) : undefined) };
      throw await auditUnverified(error, authorizer.organization.id, claimed, 'organization', source);
    }
    const { organization, person, scope } = verified;
    const requester = registry.trustedByUra(organization.ura)?.id ?? verified.presentation.holder;
    const proven = { ura: organization.ura, ...(organization.organizationName ? { name: organization.organizationName } : {}) };
    try {
      assertAuthorizerRole(authorizer, scope, 'scope');
      throttle(requester);
      return await issue(
        authorizer,
        {
          sub: requester,
          kind: 'organization',
          purposeOfUse: scope,
          resources: [],
          credentials: [],
          organization: proven,
          ...(person ? { person: person.person } : {}),
          presentationClaims: verified.claims,
          clientId: verified.clientId ?? verified.presentation.holder,
          cnf,
        },
        { values: presentationUses(verified), replayed: 'the presentation nonce or jti has been used before', grantType },
        now,
        verified.expiresAt === undefined ? undefined : Math.floor(verified.expiresAt),
      );
    } catch (error) {
      const refusal = error instanceof TokenError ? invalidRequest(error.message) : error;
      if (refusal instanceof OAuthError) {
        await auditVerified(refusal, { tenant: authorizer.organization.id, requester, requesterKind: 'organization', purposeOfUse: scope, organization: proven, ...(person ? { person: person.person } : {}) }, source);
      }
      throw refusal;
    }
  }

  const acceptedGrants = deps.acceptedGrants ?? ACCEPTED_GRANTS;
  const turnedOff = (grant: AcceptedGrant, grantType: string) =>
    new OAuthError('unsupported_grant_type', `grant_type '${grantType}' (${grant}) is not accepted here (nuts.acceptedGrants: ${acceptedGrants.join(', ') || 'none'})`);

  return {
    tokenEndpoint,
    acceptedGrants,

    exchange: (params, source = {}) =>
      limitedPerAddress(source, async () => {
        const grantType = params.grant_type;
        if (typeof grantType !== 'string' || grantType === '') throw invalidRequest('grant_type is required');
        if (grantType !== JWT_BEARER_GRANT && grantType !== CLIENT_CREDENTIALS_GRANT) {
          throw new OAuthError('unsupported_grant_type', `grant_type '${grantType}' is not supported`);
        }
        if (grantType === JWT_BEARER_GRANT && !acceptedGrants.includes('rfc003')) throw turnedOff('rfc003', grantType);
        const cnf = await tokenBinding(deps.dpop, source.dpop, tokenEndpoint);
        if (grantType === JWT_BEARER_GRANT) return jwtBearer(params, source, cnf);
        return clientCredentials(params, source, cnf);
      }),

    exchangeAt: (subject, params, source = {}) =>
      limitedPerAddress(source, async () => {
        const authorizer = hostedSubject(subject);
        const grantType = params.grant_type;
        if (typeof grantType !== 'string' || grantType === '') throw invalidRequest('grant_type is required');
        if (!deps.presentations) throw new OAuthError('unsupported_grant_type', 'this authorization server accepts no Verifiable Presentations');
        if (grantType !== VP_TOKEN_BEARER_GRANT && grantType !== JWT_BEARER_GRANT) {
          throw new OAuthError('unsupported_grant_type', `grant_type '${grantType}' is not supported here (vp_token-bearer, ${JWT_BEARER_GRANT})`);
        }
        const grant = grantType === VP_TOKEN_BEARER_GRANT ? VP_TOKEN_BEARER_GRANT : 'jwt-bearer';
        if (!acceptedGrants.includes(grant)) throw turnedOff(grant, grantType);
        const cnf = await tokenBinding(deps.dpop, source.dpop, `${issuerOf(registry.publicBaseUrl, authorizer.organization.id)}/token`);
        return presentationGrant(authorizer, grant, params, source, cnf);
      }),

    presentationDefinition(subject, scope, walletOwnerType = 'organization') {
      hostedSubject(subject);
      if (!deps.presentations) throw new OAuthError('invalid_scope', 'this authorization server has no Presentation Definitions');
      const { policy } = scopePolicy(deps.presentations.policies, scope);
      if (walletOwnerType === 'organization') return policy.organization;
      if (walletOwnerType === 'user' && policy.user) return policy.user;
      throw invalidRequest(`no Presentation Definition for wallet_owner_type '${String(walletOwnerType)}'`);
    },

    /** RFC 7662 for the tenant's own resource servers: the caller authenticates like an EHR and sees only its tenant's tokens. */
    introspect: (params, source = {}) =>
      limitedPerAddress(source, async (): Promise<IntrospectionResponse> => {
        const { client, assertion } = await authenticateClient(params, nowSeconds(clock), source);
        if (!(await writes.run((tx) => rememberAll(tx, [jtiOf('client-assertion', assertion)])))) {
          throw await refuseVerified(new TokenError('client assertion jti has been used before'), assertion, 'ehr', source);
        }
        const token = params.token;
        if (typeof token !== 'string' || token === '') throw invalidRequest('token is required');
        try {
          const claims = await verifier.verify(token);
          if (claims.tenant !== client.tenant) return { active: false };
          const { person, ...rest } = claims;
          // The person's Dezi id_token opened this token, and goes no further.
          return { ...presentationClaimsOf(claims), active: true, token_type: claims.cnf ? 'DPoP' : 'Bearer', ...(claims.purposeOfUse ? { scope: claims.purposeOfUse } : {}), ...rest, ...(person ? { person: withoutDezi(person) } : {}) };
        } catch (error) {
          if (error instanceof TokenError) return { active: false };
          throw error;
        }
      }),
  };
}
