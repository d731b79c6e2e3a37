import * as oidc from 'openid-client';
import type { DeskSettings } from '../config/config.js';

/** Who the identity provider says signed in. */
export interface SignedInPerson {
  subject: string;
  name: string;
}

/** A sign-in under way: what the browser must bring back (kept server-side, named by a short-lived cookie). */
interface PendingSignIn {
  codeVerifier: string;
  state: string;
  nonce: string;
  expiresAt: number;
  /** The desk page the person asked for before signing in (a path on this gateway). */
  returnTo?: string;
}

export const SIGN_IN_COOKIE = 'desk_sign_in';
/** How long a person may take at the identity provider. */
const SIGN_IN_MS = 10 * 60_000;

/**
 * OpenID Connect sign-in at the organisation's identity provider: the authorization code flow with PKCE (S256),
 * state and nonce, through openid-client. Discovery happens at the first sign-in, so a gateway starts while its
 * identity provider is down.
 */
export class OidcSignIn {
  private configuration?: Promise<oidc.Configuration>;
  private readonly pending = new Map<string, PendingSignIn>();

  constructor(
    private readonly settings: NonNullable<DeskSettings['oidc']>,
    private readonly redirectUri: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Where to send the browser, and the key of the pending sign-in (its cookie); `returnTo` comes back from `finish`. */
  async start(returnTo?: string): Promise<{ url: string; key: string }> {
    const config = await this.discover();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending: PendingSignIn = {
      codeVerifier,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      expiresAt: this.clock() + SIGN_IN_MS,
      ...(returnTo === undefined ? {} : { returnTo }),
    };
    this.forgetExpired();
    this.pending.set(pending.state, pending);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, key: pending.state };
  }

  /** The identity provider sent the browser back: exchanges the code, checks state, nonce and the ID token. */
  async finish(callbackUrl: string, key: string | undefined): Promise<{ person: SignedInPerson; returnTo?: string }> {
    const pending = key === undefined ? undefined : this.pending.get(key);
    if (key !== undefined) this.pending.delete(key);
    if (!pending || pending.expiresAt <= this.clock()) throw new SignInError('No sign-in under way in this browser, or it took too long');
    const tokens = await oidc.authorizationCodeGrant(await this.discover(), new URL(callbackUrl), {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new SignInError('The identity provider sent no ID token');
    const name = typeof claims.name === 'string' ? claims.name : claims.sub;
    return { person: { subject: claims.sub, name }, ...(pending.returnTo === undefined ? {} : { returnTo: pending.returnTo }) };
  }

  private discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    const issuerUrl = new URL(issuer);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuerUrl.hostname);
    this.configuration ??= oidc
      .discovery(issuerUrl, clientId, clientSecret, clientSecret === undefined ? oidc.None() : undefined, {
        ...(loopback && issuerUrl.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  private forgetExpired(): void {
    const now = this.clock();
    for (const [key, pending] of this.pending) if (pending.expiresAt <= now) this.pending.delete(key);
  }
}

class SignInError extends Error {}
