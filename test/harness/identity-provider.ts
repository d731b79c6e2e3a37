import Provider from 'oidc-provider';
import { freePort } from './gateways.js';

/**
 * An OpenID provider on loopback (oidc-provider with its development login screen: any login and password sign in,
 * the login becomes the subject), for the desk's sign-in in tests and the demo. One client, with the redirect URIs given.
 */
export interface IdentityProvider {
  issuer: string;
  close(): void;
}

export async function startIdentityProvider(options: {
  client: { clientId: string; clientSecret: string };
  redirectUris: string[];
  /** The `name` claim of a subject. */
  nameOf?: (subject: string) => string;
  port?: number;
}): Promise<IdentityProvider> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.client.clientId,
        client_secret: options.client.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], profile: ['name'] },
    conformIdTokenClaims: false,
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    findAccount: async (_context: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, name: options.nameOf?.(id) ?? id }) }),
    cookies: { keys: ['test-only-cookie-key'] },
  });
  const server = provider.listen(port);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    issuer,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
