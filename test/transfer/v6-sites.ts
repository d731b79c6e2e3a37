import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import { createCertificateAuthority } from '../../src/auth/credentials/certificateAuthority.js';
import { tokenAuditEvents } from '../harness/calls.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { uziCertificateFiles, type Party } from '../harness/parties.js';

/**
 * A hospital (sender) and a VVT (receiver) on sites of their own that accept only Nuts v6 grants: each names the
 * other's authorization server by its Nuts v6 issuer (`{url}/oauth2/{organisation}`), each organisation has an
 * X509Credential under a test UZI CA both trust, and both accept nothing but vp_token-bearer (`nuts.acceptedGrants`).
 */
export interface V6Sites extends RunningSites {
  sender: Site;
  receiver: Site;
}

/** UZI server certificates for each site's party under one test CA both trust: the CA file and the parties' files. */
export async function uziCredentials(holders: [Site, Party][]): Promise<{ caFile: string; x509: Map<string, { certificateFile: string; keyFile: string }> }> {
  const ca = await createCertificateAuthority('Test UZI Server CA');
  const caFile = path.join(holders[0]![0].dataDir, 'uzi-ca.pem');
  writeFileSync(caFile, ca.pem);
  const x509 = new Map<string, { certificateFile: string; keyFile: string }>();
  for (const [site, p] of holders) x509.set(p.id, await uziCertificateFiles(site.dataDir, ca, p));
  return { caFile, x509 };
}

/** The configuration's organisations, each with its X509Credential's certificate and key files. */
export const withX509 = (raw: Record<string, unknown>, x509: Map<string, { certificateFile: string; keyFile: string }>) =>
  (raw.organizations as { id: string }[]).map((organization) => ({ ...organization, x509: x509.get(organization.id) }));

/** A site's configuration turned Nuts v6 only: its organisations' X509Credentials, the CA, the peers' v6 issuers. */
function v6Only(caFile: string, x509: Map<string, { certificateFile: string; keyFile: string }>) {
  return (raw: Record<string, unknown>) => {
    const organizations = withX509(raw, x509);
    const trusted = (raw.trusted as { id: string; endpoints: Record<string, string> }[]).map((organization) => ({
      ...organization,
      endpoints: { ...organization.endpoints, authorizationServer: `${organization.endpoints.authorizationServer}/oauth2/${organization.id}` },
    }));
    return { ...raw, mode: 'development', organizations, trusted, nuts: { trustedCaFiles: [caFile], acceptedGrants: ['vp_token-bearer'] } };
  };
}

/** Starts the two sites; `configure` changes a site's v6-only configuration further (the site given) before it starts. */
export async function startV6Sites(
  hospital: Party,
  vvt: Party,
  prefix: string,
  configure: (raw: Record<string, unknown>, site: Site) => Record<string, unknown> = (raw) => raw,
): Promise<V6Sites> {
  const sender = await newSite([{ party: hospital, roles: ['sender'] }], prefix);
  const receiver = await newSite([{ party: vvt, roles: ['receiver'] }], prefix);
  const { caFile, x509 } = await uziCredentials([
    [sender, hospital],
    [receiver, vvt],
  ]);
  const v6 = v6Only(caFile, x509);
  const running = await startSites([sender, receiver], (raw) => configure(v6(raw), raw.port === sender.port ? sender : receiver));
  return { ...running, sender, receiver };
}

/** Every token `requester` asked of each gateway's tenant was granted on vp_token-bearer and bound with DPoP; none refused. */
export async function expectOnlyV6Tokens(sides: readonly (readonly [{ url: string }, Party, Party])[], proven?: (login: { agent: unknown[] }, requester: Party) => void): Promise<void> {
  for (const [gateway, tenant, requester] of sides) {
    const logins = await tokenAuditEvents(gateway.url, tenant, requester);
    expect(logins.length).toBeGreaterThan(0);
    for (const login of logins) {
      expect(login.outcome).toBe('0');
      proven?.(login, requester);
      expect(login.entity[0]?.detail).toEqual([
        { type: 'grant_type', valueString: 'vp_token-bearer' },
        { type: 'token_type', valueString: 'DPoP' },
      ]);
    }
  }
}
