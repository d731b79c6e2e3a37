import { describe, expect, it } from '@jest/globals';
import { createAuthenticator } from '../../src/auth/authenticator.js';
import type { AccessRequest, Principal } from '../../src/fhir/principal.js';
import { basePolicyAllows, isKnownPurpose, PURPOSES } from '../../src/auth/purposes.js';
import type { TokenVerifier } from '../../src/auth/tokenVerifier.js';

/** The resource-server decision (`authorize`), judged on principals as `authenticate` builds them from tokens. */
const unusedVerifier: TokenVerifier = {
  verify: () => Promise.reject(new Error('authorize never verifies tokens')),
  remember: () => undefined,
};
const { authorize } = createAuthenticator(unusedVerifier, { verify: () => Promise.reject(new Error('authorize never checks proofs')) });

// Granted resources (RFC014 credentials presented in a grant) are judged for any purpose but eOverdracht-sender,
// whose pulls only Consents allow (consents.test.ts).
const receiver: Principal = {
  tenant: 'hospital',
  kind: 'organization',
  requester: 'vvt-a',
  purposeOfUse: 'capacity-subscription',
  resources: [
    { path: '/Task/123', operations: ['read', 'vread', 'update'], userContext: false },
    { path: '/Composition/abc', operations: ['read'], userContext: true },
  ],
};

const request = (operation: AccessRequest['operation'], path: string, extra: Partial<AccessRequest> = {}): AccessRequest => ({
  version: 'stu3',
  operation,
  path,
  ...extra,
});

describe('authorize', () => {
  it('lets a tenant\'s own EHR do anything within its tenant', async () => {
    const ehr: Principal = { tenant: 'hospital', kind: 'ehr', requester: 'ehr-1', resources: [] };
    expect(await authorize(ehr, request('delete', '/Patient/1'))).toBeUndefined();
    expect(await authorize(ehr, request('search', '/Observation'))).toBeUndefined();
  });

  it('allows exactly the granted path and operation', async () => {
    expect(await authorize(receiver, request('read', '/Task/123'))).toBeUndefined();
    expect(await authorize(receiver, request('update', '/Task/123'))).toBeUndefined();
    expect(await authorize(receiver, request('vread', '/Task/123/_history/4'))).toBeUndefined();
  });

  it.each([
    ['a path not granted', request('read', '/Task/999')],
    ['a prefix of a granted path', request('read', '/Task/12')],
    ['a granted path with more after it', request('read', '/Task/123/extra')],
    ['a path containing a granted one', request('read', '/x/Task/123')],
    ['another case', request('read', '/task/123')],
    ['an operation not granted', request('delete', '/Task/123')],
    ['a search of the granted type', request('search', '/Task')],
    ['instance history when only vread is granted', request('history', '/Task/123/_history')],
    ['the granted path on the notification endpoint', request('update', '/Task/123', { endpoint: 'notification' })],
  ])('refuses %s with 403 forbidden', async (_case, access) => {
    const result = await authorize(receiver, access);
    expect(result?.id).toBe('forbidden');
    expect(result?.issue[0]?.code).toBe('forbidden');
  });

  it('requires a user identity for resources granted with userContext', async () => {
    expect((await authorize(receiver, request('read', '/Composition/abc')))?.issue[0]?.details?.text).toMatch(/requires a user identity/);
    const withPerson = { ...receiver, person: { identifier: 'nurse-1', name: 'N. Urse', role: 'nurse' } };
    expect(await authorize(withPerson, request('read', '/Composition/abc'))).toBeUndefined();
  });

  it('applies the purpose base policy: the notification endpoint for eOverdracht-receiver', async () => {
    const sender: Principal = { tenant: 'vvt-a', kind: 'organization', requester: 'hospital', purposeOfUse: 'eOverdracht-receiver', resources: [] };
    expect(await authorize(sender, request('create', '/Task/7f3a-1.2', { endpoint: 'notification' }))).toBeUndefined();
    expect((await authorize(sender, request('create', '/Task/7f3a/x', { endpoint: 'notification' })))?.id).toBe('forbidden');
    expect((await authorize(sender, request('read', '/Task/7f3a', { endpoint: 'notification' })))?.id).toBe('forbidden');
    expect((await authorize(sender, request('create', '/Task/7f3a')))?.id).toBe('forbidden');
  });

  it('ignores granted resources for eOverdracht-sender: its pulls need a Consent', async () => {
    const puller = { ...receiver, purposeOfUse: 'eOverdracht-sender' };
    expect((await authorize(puller, request('read', '/Task/123')))?.issue[0]?.details?.text).toMatch(/needs a Consent/);
    expect(await authorize(puller, request('batch', '/'))).toBeUndefined();
  });

  it('gives no base access to a purpose that has none, nor to an unknown purpose', async () => {
    const bare = { ...receiver, resources: [] };
    expect((await authorize(bare, request('read', '/Task/123')))?.id).toBe('forbidden');
    expect((await authorize({ ...bare, purposeOfUse: 'no-such-purpose' }, request('read', '/Task/123')))?.id).toBe('forbidden');
  });
});

describe('purposes', () => {
  it('knows the eOverdracht and capacity purposes, and nothing inherited from Object', () => {
    expect(Object.keys(PURPOSES).sort()).toEqual(['capacity-publication', 'capacity-subscription', 'care-services-directory', 'care-services-query', 'eOverdracht-receiver', 'eOverdracht-sender']);
    expect(isKnownPurpose('constructor')).toBe(false);
    expect(isKnownPurpose('toString')).toBe(false);
  });

  it('matches {id} as exactly one FHIR id', () => {
    expect(basePolicyAllows('capacity-subscription', 'fhir', '/MeasureReport/abc-1.2', 'read')).toBe(true);
    expect(basePolicyAllows('capacity-subscription', 'fhir', '/MeasureReport/a/b', 'read')).toBe(false);
    expect(basePolicyAllows('capacity-subscription', 'fhir', `/MeasureReport/${'a'.repeat(65)}`, 'read')).toBe(false);
    expect(basePolicyAllows('capacity-subscription', 'fhir', '/Subscription/s1/$status', 'operation')).toBe(true);
    expect(basePolicyAllows('capacity-subscription', 'fhir', '/Patient/1', 'read')).toBe(false);
    expect(basePolicyAllows('capacity-publication', 'fhir', '/MeasureReport', 'create')).toBe(true);
    expect(basePolicyAllows('capacity-publication', 'fhir', '/MeasureReport/1', 'update')).toBe(false);
  });
});
