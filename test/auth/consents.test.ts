import { describe, expect, it } from '@jest/globals';
import { consentDecision, type ConsentRule } from '../../src/auth/consents.js';
import type { AccessRequest, Principal } from '../../src/fhir/principal.js';
import type { Resource } from '../../src/fhir/version.js';
import { CONSENT_REQUIRES_PERSON_EXTENSION } from '../../src/vocabulary/canonical.js';

/** The Consent rule of an eOverdracht pull, on Consents as the sender writes them and as another EHR might. */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const NOW = Date.parse('2026-12-06T12:00:00Z');
const hospital = { id: 'hospital', ura: '11111111' };
const vvt = { id: 'vvt', ura: '22222222' };

function consentFor(overrides: Record<string, unknown> = {}, provision: Record<string, unknown> = {}): Resource {
  return {
    resourceType: 'Consent',
    id: 'c1',
    status: 'active',
    scope: { coding: [{ system: 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-consent-scope', code: 'eoverdracht' }] },
    organization: [{ identifier: { system: URA, value: hospital.ura } }],
    ...overrides,
    provision: {
      type: 'permit',
      actor: [{ role: { coding: [{ code: 'IRCP' }] }, reference: { identifier: { system: URA, value: vvt.ura } } }],
      action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }],
      data: [{ meaning: 'instance', reference: { reference: 'Task/t1' } }],
      ...provision,
    },
  };
}

function rule(consents: Resource[]): ConsentRule {
  return {
    lookup: async (tenant, key) => (tenant === hospital.id ? consents.filter((c) => JSON.stringify(c).includes(`"${key}"`)) : []),
    holder: (tenant) => (tenant === hospital.id ? hospital : undefined),
    actor: (requester) => (requester === vvt.id ? vvt : requester === 'other' ? { id: 'other', ura: '33333333' } : undefined),
    clock: () => NOW,
  };
}

const principal = (requester = vvt.id): Principal => ({ tenant: hospital.id, kind: 'organization', requester, purposeOfUse: 'eOverdracht-sender', resources: [] });
const request = (operation: AccessRequest['operation'], path: string): AccessRequest => ({ version: 'stu3', operation, path });
async function decide(consents: Resource[], access: AccessRequest, who = vvt.id): Promise<string | undefined> {
  const issue = (await consentDecision(rule(consents), principal(who), access))?.issue[0];
  return issue?.diagnostics ?? issue?.details?.text;
}

describe('the Consent rule', () => {
  it('allows a read of the resource an active Consent names for the requester', async () => {
    expect(await consentDecision(rule([consentFor()]), principal(), request('read', '/Task/t1'))).toBeUndefined();
  });

  it.each([
    ['another resource', [consentFor()], request('read', '/Task/t2'), vvt.id, /no active eoverdracht Consent names Task\/t2/],
    ['another organisation', [consentFor()], request('read', '/Task/t1'), 'other', /no active eoverdracht Consent names Task\/t1/],
    ['an inactive Consent', [consentFor({ status: 'inactive' })], request('read', '/Task/t1'), vvt.id, /no active/],
    ['another scope', [consentFor({ scope: { coding: [{ system: 'x', code: 'bgz' }] } })], request('read', '/Task/t1'), vvt.id, /no active/],
    ['another data holder', [consentFor({ organization: [{ identifier: { system: URA, value: '99999999' } }] })], request('read', '/Task/t1'), vvt.id, /no active/],
    ['a Consent that expired', [consentFor({}, { period: { end: '2026-12-06T11:59:59Z' } })], request('read', '/Task/t1'), vvt.id, /no active/],
    ['a deny beside a permit', [consentFor(), consentFor({ id: 'c2' }, { type: 'deny' })], request('read', '/Task/t1'), vvt.id, /a Consent denies Task\/t1/],
    ['an update without correct', [consentFor()], request('update', '/Task/t1'), vvt.id, /no longer allows its update/],
    ['a search', [consentFor()], request('search', '/Task'), vvt.id, /may only read/],
    ['a vread', [consentFor()], request('vread', '/Task/t1/_history/1'), vvt.id, /may only read/],
    ['an update of another type', [consentFor({}, { data: [{ reference: { reference: 'Composition/c' } }] })], request('update', '/Composition/c'), vvt.id, /may only read/],
  ])('refuses %s', async (_case, consents, access, who, why) => {
    expect(await decide(consents, access, who)).toMatch(why);
  });

  it('allows $document of a named Composition and the update of a Task whose Consent allows correct', async () => {
    const composition = consentFor({}, { data: [{ reference: { reference: 'Composition/c' } }] });
    expect(await consentDecision(rule([composition]), principal(), request('operation', '/Composition/c/$document'))).toBeUndefined();
    const correct = consentFor({}, { action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }, { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'correct' }] }] });
    expect(await consentDecision(rule([correct]), principal(), request('update', '/Task/t1'))).toBeUndefined();
  });

  it('opens what a Consent marked as requiring a person names only to a token naming one (the person policy)', async () => {
    const marked = consentFor({ extension: [{ url: CONSENT_REQUIRES_PERSON_EXTENSION, valueBoolean: true }] }, { data: [{ reference: { reference: 'Composition/c' } }] });
    expect(await decide([marked], request('operation', '/Composition/c/$document'))).toMatch(/requires a user identity/);
    expect(await decide([marked], request('read', '/Composition/c'))).toMatch(/requires a user identity/);
    const nurse = { ...principal(), person: { identifier: 'nurse-7', name: 'N. Zeven' } };
    expect(await consentDecision(rule([marked]), nurse, request('read', '/Composition/c'))).toBeUndefined();
    const unmarked = consentFor({ id: 'c2' }, { data: [{ reference: { reference: 'Composition/c' } }] });
    expect(await decide([marked, unmarked], request('read', '/Composition/c'))).toBeUndefined();
  });
});
