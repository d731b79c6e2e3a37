import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import type { Resource } from '../../src/fhir/version.js';
import { signed, type Party } from './parties.js';

/** Calls to a gateway over HTTP, as an EHR or a remote organisation makes them. */

async function tokenRequest(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The person an EHR names in its tokens unless a test says otherwise: the nurse logged in there. */
export const nurseOf = (p: Party) => ({ id: `${p.id}-nurse`, name: `Nurse of ${p.name}`, role: 'nurse' });

/** An access token of the party's own EHR at its gateway (client credentials, private-key JWT), naming the person at the EHR (`usi`; null: nobody). */
export function ehrToken(url: string, p: Party, usi: Record<string, string> | null = nurseOf(p)): Promise<string> {
  return ehrTokenNaming(url, p, usi ? { usi } : {});
}

/** An access token of the party's own EHR naming the person by the client assertion's claims (`usi` or `dezi_id_token`). */
export async function ehrTokenNaming(url: string, p: Party, person: Record<string, unknown>): Promise<string> {
  const assertion = await signed(p.ehr.clientId, p.ehr.jwk, person, `${url}/oauth2/token`, p.ehr.clientId);
  const { status, body } = await tokenRequest(url, { grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion });
  if (status !== 200) throw new Error(`EHR token refused: ${status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

/**
 * The Nuts-style grant a remote organisation signs, as its gateway would: answers the token endpoint's JSON. `claims`
 * adds to the grant (e.g. `usi`, the person behind the request); `resource` is the RFC 8707 resource indicator (the
 * sender's Task URL, for which a sender grants the credentials it keeps).
 */
export async function organizationToken(url: string, requester: Party, authorizer: string, purposeOfUse: string, vcs: string[], claims: Record<string, unknown> = {}, resource?: string) {
  const assertion = await signed(requester.id, requester.jwk, { purposeOfUse, vcs, ...claims }, `${url}/oauth2/token`, authorizer);
  return tokenRequest(url, { grant_type: JWT_BEARER_GRANT, assertion, ...(resource === undefined ? {} : { resource }) });
}

export interface Answer {
  status: number;
  body: Resource & Record<string, unknown>;
}

export async function fhirCall(url: string, token: string, method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

export type AuditEvent = Resource & {
  type: { code: string };
  action: string;
  outcome: string;
  agent: { who?: { identifier?: { value?: string }; display?: string }; altId?: string; role?: { text?: string }[] }[];
  entity: { detail?: { type: string; valueString?: string }[] }[];
};

/** The tenant's R4 AuditEvents (search through its EHR), `query` added to the search (e.g. `&entity=...`). */
export async function auditTrail(url: string, p: Party, query = ''): Promise<AuditEvent[]> {
  const { status, body } = await fhirCall(url, await ehrToken(url, p), 'GET', `/fhir/AuditEvent?_count=500${query}`);
  if (status !== 200) throw new Error(`AuditEvent search answered ${status}: ${JSON.stringify(body)}`);
  return ((body.entry as { resource: AuditEvent }[] | undefined) ?? []).map((entry) => entry.resource);
}

/** The token AuditEvents (DICOM 110114, "User Authentication") of the tenant's trail for tokens `requester` asked for. */
export async function tokenAuditEvents(url: string, tenant: Party, requester: Party): Promise<AuditEvent[]> {
  return (await auditTrail(url, tenant)).filter((event) => event.type.code === '110114' && event.agent[0]?.who?.identifier?.value === requester.id);
}
