import Provider from 'oidc-provider';

/**
 * The demo region's identity provider (oidc-provider, its development login screen): any login and password sign in,
 * and the coordination point's desk lets in the person whose login is `DESK_COORDINATOR` (its `desk.people`).
 */
export const DESK_COORDINATOR = 'coordinator';
export const DESK_CLIENT = { clientId: 'regional-desk', clientSecret: 'demo-only-secret' };

export async function startIdentityProvider(port: number, redirectUris: string[]): Promise<{ issuer: string; close(): void }> {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      { client_id: DESK_CLIENT.clientId, client_secret: DESK_CLIENT.clientSecret, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] },
    ],
    claims: { openid: ['sub'], profile: ['name'] },
    conformIdTokenClaims: false,
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    findAccount: async (_context: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, name: id === DESK_COORDINATOR ? 'Coördinator ZCC Rijnmond' : id }) }),
    cookies: { keys: ['demo-only-cookie-key'] },
  });
  const server = provider.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    issuer,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
