import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keyOf } from '../../src/fhir/references.js';
import type { Resource } from '../../src/fhir/version.js';
import { fhirCall, type Answer } from '../harness/calls.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, transaction } from './support.js';

/**
 * `Composition/[id]/$document` on one gateway, for the tenant's own EHR: the Nictiz eOverdracht STU3 examples as
 * stored, an R4 document, other tenants' data. Remote callers and the audit trail: access-audit.test.ts.
 */
let gateway: TestGateway;
let token: string;
const examples = nictizExamples();

beforeAll(async () => {
  gateway = await startTestGateway(['hospital', 'other']);
  token = await gateway.token('hospital');
  const loaded = await fhirCall(gateway.url, token, 'POST', '/fhir/stu3', transaction(examples));
  expect(loaded.status).toBe(200);
}, 60_000);
afterAll(() => gateway?.close());

interface DocumentBundle extends Resource {
  type: string;
  entry: { fullUrl: string; resource: Resource }[];
}

const documentCall = (base: string, composition: string, query = '', caller = token) => fhirCall(gateway.url, caller, 'GET', `${base}/${composition}/$document${query}`);
const entryKeys = (answer: Answer) => (answer.body as DocumentBundle).entry.map((entry) => keyOf(entry.resource));
const errors = (answer: Answer) => ((answer.body.issue as { severity: string }[] | undefined) ?? []).filter((issue) => ['error', 'fatal'].includes(issue.severity));
const validated = (base: string, resource: Resource) => fhirCall(gateway.url, token, 'POST', `${base}/$validate`, resource);

describe('Composition/[id]/$document', () => {
  it.each([ADVANCE_NOTICE, NURSING_HANDOFF])('answers %s with the Composition first, then its whole reference closure, each once', async (composition) => {
    const answer = await documentCall('/fhir/stu3', composition);
    expect(answer.status).toBe(200);
    const keys = entryKeys(answer);
    const closure = documentOf(examples, composition).map(keyOf);
    expect(closure.length).toBeGreaterThan(5);
    expect(keys[0]).toBe(composition);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual([...closure].sort());
    expect((answer.body as DocumentBundle).entry.map((entry) => entry.fullUrl)).toEqual(keys.map((key) => `${gateway.url}/fhir/stu3/${key}`));
    expect(answer.body).toMatchObject({
      resourceType: 'Bundle',
      type: 'document',
      identifier: { system: 'urn:ietf:rfc:3986', value: expect.stringMatching(/^urn:uuid:[0-9a-f-]{36}$/) },
      meta: { lastUpdated: expect.any(String) },
    });
    expect(answer.body).not.toHaveProperty('timestamp'); // not an STU3 element
  });

  it('holds the resources as stored', async () => {
    const answer = await documentCall('/fhir/stu3', ADVANCE_NOTICE);
    const patient = (answer.body as DocumentBundle).entry.find((entry) => entry.resource.resourceType === 'Patient')!.resource;
    expect(patient).toEqual((await fhirCall(gateway.url, token, 'GET', `/fhir/stu3/${keyOf(patient)}`)).body);
    expect(entryKeys(answer)).not.toContain(NURSING_HANDOFF);
  });

  it("validates as an STU3 document Bundle with the gateway's validator, which refuses one without its identifier", async () => {
    const answer = await documentCall('/fhir/stu3', NURSING_HANDOFF);
    const result = await validated('/fhir/stu3', answer.body);
    expect(result.status).toBe(200);
    expect(errors(result)).toEqual([]);
    const { identifier: _identifier, ...withoutIdentifier } = answer.body;
    expect(errors(await validated('/fhir/stu3', withoutIdentifier))).not.toEqual([]);
  });

  it('answers 404 for a Composition that is not stored, and for one of another tenant', async () => {
    const missing = await documentCall('/fhir/stu3', 'Composition/not-there');
    expect(missing).toMatchObject({ status: 404, body: { resourceType: 'OperationOutcome' } });
    const elsewhere = await documentCall('/fhir/stu3', ADVANCE_NOTICE, '', await gateway.token('other'));
    expect(elsewhere).toMatchObject({ status: 404, body: { resourceType: 'OperationOutcome' } });
    expect((await documentCall('/fhir', ADVANCE_NOTICE)).status).toBe(404); // stored on the STU3 base only
  });

  it('refuses persist=true and parameters it does not define, and takes persist=false and POST', async () => {
    const persisted = await documentCall('/fhir/stu3', ADVANCE_NOTICE, '?persist=true');
    expect(persisted.status).toBe(400);
    expect(JSON.stringify(persisted.body.issue)).toMatch(/persist=true is not supported/);
    expect((await documentCall('/fhir/stu3', ADVANCE_NOTICE, '?persist=false')).status).toBe(200);
    const graph = await documentCall('/fhir/stu3', ADVANCE_NOTICE, '?graph=http://example.org/graph');
    expect(graph.status).toBe(400);
    expect(JSON.stringify(graph.body.issue)).toMatch(/Unknown parameter 'graph'/);
    const posted = await fhirCall(gateway.url, token, 'POST', `/fhir/stu3/${ADVANCE_NOTICE}/$document`, { resourceType: 'Parameters', parameter: [{ name: 'persist', valueBoolean: false }] });
    expect(posted.status).toBe(200);
    expect(entryKeys(posted)[0]).toBe(ADVANCE_NOTICE);
  });

  it('answers in XML too', async () => {
    const response = await fetch(`${gateway.url}/fhir/stu3/${ADVANCE_NOTICE}/$document?_format=xml`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+xml/);
    const xml = await response.text();
    expect(xml).toMatch(/^(<\?xml [^>]*\?>)?<Bundle xmlns="http:\/\/hl7.org\/fhir"><meta>/);
    expect(xml).toContain('<type value="document"/>');
  });

  it('builds an R4 document from the tenant’s own resources only, with a timestamp, and it validates', async () => {
    const other = await gateway.token('other');
    const foreign = { resourceType: 'Practitioner', id: 'doc-r4-foreign', name: [{ family: 'Elders' }] };
    expect((await fhirCall(gateway.url, other, 'PUT', `/fhir/Practitioner/${foreign.id}`, foreign)).status).toBe(201);
    const own: Resource[] = [
      { resourceType: 'Patient', id: 'doc-r4-patient', name: [{ family: 'Jansen' }] },
      { resourceType: 'Practitioner', id: 'doc-r4-author', name: [{ family: 'Pieters' }] },
      {
        resourceType: 'Observation',
        id: 'doc-r4-observation',
        status: 'final',
        code: { text: 'pain' },
        subject: { reference: 'Patient/doc-r4-patient' },
        performer: [{ reference: 'Practitioner/doc-r4-author' }, { reference: `Practitioner/${foreign.id}` }],
      },
      {
        resourceType: 'Composition',
        id: 'doc-r4',
        status: 'final',
        type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
        subject: { reference: 'Patient/doc-r4-patient' },
        date: '2026-12-01',
        author: [{ reference: 'Practitioner/doc-r4-author' }],
        title: 'Summary',
        section: [{ title: 'Observations', entry: [{ reference: 'Observation/doc-r4-observation' }] }],
      },
    ];
    expect((await fhirCall(gateway.url, token, 'POST', '/fhir', transaction(own))).status).toBe(200);
    const answer = await documentCall('/fhir', 'Composition/doc-r4');
    expect(answer.status).toBe(200);
    expect(entryKeys(answer)).toEqual(['Composition/doc-r4', 'Patient/doc-r4-patient', 'Practitioner/doc-r4-author', 'Observation/doc-r4-observation']);
    expect(answer.body).toMatchObject({ type: 'document', timestamp: expect.any(String) });
    expect(errors(await validated('/fhir', answer.body))).toEqual([]);
    const { timestamp: _timestamp, ...undated } = answer.body;
    expect(errors(await validated('/fhir', undated))).not.toEqual([]);
  });
});
