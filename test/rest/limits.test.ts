import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { POSTGRES_URL, postgresAvailable } from '../store/backends.js';

/** What one request may ask and gather (limits.*): Bundle entries, _count, the response budget, search complexity. */

interface SearchsetBody {
  type: string;
  entry?: { resource?: { resourceType: string; id: string }; search?: { mode: string }; response?: { status: string; outcome?: OutcomeBody } }[];
  link?: { relation: string; url: string }[];
}
interface OutcomeBody {
  resourceType: string;
  issue: { code: string; details?: { text?: string } }[];
}

async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`drop schema if exists ${name} cascade`);
  await client.end();
}

const issueText = (outcome: OutcomeBody | undefined) => outcome?.issue.map((issue) => issue.details?.text).join('; ');

function client(gateway: TestGateway, token: string) {
  const auth = `Bearer ${token}`;
  return {
    get: (path: string) => request(gateway.url).get(path).set('Authorization', auth),
    post: (path: string, body: unknown) =>
      request(gateway.url).post(path).set('Authorization', auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
  };
}

const batch = (urls: string[], type = 'batch') => ({ resourceType: 'Bundle', type, entry: urls.map((url) => ({ request: { method: 'GET', url } })) });

/** Patients of about `bytes` JSON each (a long family name), created in one transaction. */
async function createPatients(api: ReturnType<typeof client>, count: number, bytes: number): Promise<string[]> {
  const entry = Array.from({ length: count }, (_, i) => ({
    resource: { resourceType: 'Patient', name: [{ family: `${i}-${'x'.repeat(bytes)}` }] },
    request: { method: 'POST', url: 'Patient' },
  }));
  const created = await api.post('/fhir', { resourceType: 'Bundle', type: 'transaction', entry });
  expect(created.status).toBe(200);
  return (created.body as SearchsetBody).entry!.map((item) => item.resource!.id);
}

/** Both backends; on PostgreSQL each block has a schema of its own, dropped afterwards. */
function backends(block: string): [string, { databaseUrl?: string; databaseSchema?: string }][] {
  const schema = `limits_${block}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return [['sqlite', {}], ...(postgresAvailable ? [['postgres', { databaseUrl: POSTGRES_URL, databaseSchema: schema }] as [string, { databaseUrl: string; databaseSchema: string }]] : [])];
}

describe.each(backends('request'))('limits of one request on %s', (name, database) => {
  let gateway: TestGateway;
  let api: ReturnType<typeof client>;
  let patients: string[];

  beforeAll(async () => {
    const limits = { bundleEntries: 10, searchCount: 5, responseBytes: 65_536 };
    gateway = await startTestGateway(['tenant-a'], { limits, ...database });
    api = client(gateway, await gateway.token('tenant-a'));
    patients = await createPatients(api, 7, 15_000);
    const observations = patients.slice(0, 2).flatMap((id) =>
      Array.from({ length: 5 }, () => ({
        resource: { resourceType: 'Observation', status: 'final', code: { text: 'x'.repeat(15_000) }, subject: { reference: `Patient/${id}` } },
        request: { method: 'POST', url: 'Observation' },
      })),
    );
    expect((await api.post('/fhir', { resourceType: 'Bundle', type: 'transaction', entry: observations })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    if (name === 'postgres') await dropSchema(database.databaseSchema!);
  });

  it.each(['batch', 'transaction'])('refuses a %s with more entries than limits.bundleEntries (413, naming the limit)', async (type) => {
    const response = await api.post('/fhir', batch(Array.from({ length: 11 }, () => 'Patient'), type));
    expect(response.status).toBe(413);
    expect(issueText(response.body)).toBe('The Bundle has 11 entries; it exceeds limits.bundleEntries (10)');
  });

  it('lowers _count to limits.searchCount, in a batch too', async () => {
    const direct = await api.get('/fhir/Patient?_count=1000&_elements=id');
    expect(direct.status).toBe(200);
    const next = (direct.body as SearchsetBody).link!.find((link) => link.relation === 'next')!.url;
    expect(next).toMatch(/_count=5\b/);
    const inBatch = await api.post('/fhir', batch(['Patient?_count=1000&_id=' + patients.slice(0, 6).join(',')]));
    const searchset = (inBatch.body as { entry: { resource: SearchsetBody }[] }).entry[0].resource;
    expect(searchset.link?.find((link) => link.relation === 'next')?.url).toMatch(/_count=5\b/);
  });

  it('stops a search page where the response budget ends, with a next link from there; the pages together hold every match', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/fhir/Patient?_count=5';
    while (path) {
      const page = await api.get(path);
      expect(page.status).toBe(200);
      const body = page.body as SearchsetBody;
      const ids = (body.entry ?? []).map((item) => item.resource!.id);
      // Four patients of ~15 kB fit 65,536 bytes; with _count=5 the budget, not the count, ends every full page.
      expect(ids.length).toBeLessThanOrEqual(4);
      seen.push(...ids);
      const next = body.link?.find((link) => link.relation === 'next')?.url;
      path = next ? new URL(next).pathname + new URL(next).search : undefined;
    }
    expect(seen).toEqual(patients);
  });

  it('answers the entries of a batch after the budget is spent without running them (too-costly)', async () => {
    const urls = [`Patient/${patients[0]}`, `Patient/${patients[1]}`, 'Patient?_count=5', `Patient/${patients[2]}`, 'Patient'];
    const response = await api.post('/fhir', batch(urls));
    expect(response.status).toBe(200);
    const entries = (response.body as { entry: { resource?: SearchsetBody; response: { status: string; outcome?: OutcomeBody } }[] }).entry;
    // Two reads (30 kB), then the search's page stops after two more patients: nothing more is gathered.
    expect(entries.map((item) => item.response.status)).toEqual(['200 OK', '200 OK', '200 OK', '413 Payload Too Large', '413 Payload Too Large']);
    expect(entries[2].resource?.entry).toHaveLength(2);
    expect(entries[2].resource?.link?.find((link) => link.relation === 'next')?.url).toMatch(/_offset=2\b/);
    expect(entries[3].response.outcome?.issue[0].code).toBe('too-costly');
    expect(issueText(entries[3].response.outcome)).toBe('Bundle.entry[3] was not run: the answers before it used up limits.responseBytes (65536)');
  });

  it('reads a history within the budget, or answers too-costly (a history has no next page to stop short with)', async () => {
    const fits = await api.get('/fhir/Patient/_history?_count=4');
    expect(fits.status).toBe(200);
    expect((fits.body as SearchsetBody).entry).toHaveLength(4);
    const tooMany = await api.get('/fhir/Patient/_history?_count=5');
    expect(tooMany.status).toBe(413);
    expect(issueText(tooMany.body)).toBe('The 5 versions of this history exceed limits.responseBytes (65536); ask for a smaller _count');
  });

  it('counts _include and _revinclude against the budget: a page whose includes do not fit is too costly', async () => {
    const fits = await api.get(`/fhir/Patient?_id=${patients[2]}&_revinclude=Observation:subject`);
    expect(fits.status).toBe(200);
    const revincluded = await api.get(`/fhir/Patient?_id=${patients[0]}&_revinclude=Observation:subject`);
    expect(revincluded.status).toBe(413);
    expect(issueText(revincluded.body)).toBe(
      'The resources _include/_revinclude adds to this page exceed limits.responseBytes (65536); ask for a smaller _count',
    );
    const included = await api.get(`/fhir/Observation?subject=Patient/${patients[0]}&_count=4&_include=Observation:subject`);
    expect(included.status).toBe(413);
  });
});

/** Queries that reach a database limit (expression depth, ORDER BY terms, bound values) are refused before SQL. */
describe.each(backends('complexity'))('search complexity on %s', (name, database) => {
  let gateway: TestGateway;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    gateway = await startTestGateway(['tenant-a'], database);
    api = client(gateway, await gateway.token('tenant-a'));
    await createPatients(api, 2, 10);
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    if (name === 'postgres') await dropSchema(database.databaseSchema!);
  });

  const repeated = (name: string, value: string, times: number) => Array.from({ length: times }, () => `${name}=${value}`).join('&');

  it.each([
    ['_sort with 3,000 terms', `_sort=${Array.from({ length: 3000 }, () => 'birthdate').join(',')}`, '_sort has 3000 terms; it exceeds limits.sortTerms (8)'],
    ['a parameter repeated 1,000 times', repeated('name', 'a', 1000), 'limits.searchParameters (50)'],
    ['1,000 comma-separated values', `identifier=${Array.from({ length: 1000 }, (_, i) => `s|${i}`).join(',')}`, 'limits.searchParameters (50)'],
    ['1,000 _include items', `_include=${Array.from({ length: 1000 }, () => 'Patient:general-practitioner').join(',')}`, 'limits.searchParameters (50)'],
    ['1,000 _revinclude parameters', repeated('_revinclude', 'Observation:subject', 1000), 'limits.searchParameters (50)'],
    ['many dates ORed', `birthdate=${Array.from({ length: 2000 }, () => 'ge1940').join(',')}`, 'limits.searchParameters (50)'],
  ])('answers %s with 400 naming the limit', async (_what, query, limit) => {
    const response = await api.post('/fhir/Patient/_search', undefined).type('form').send(query);
    expect(response.status).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(issueText(response.body)).toContain(limit);
  });

  it('answers long values (strings, tokens, references, :contains) without a 5xx', async () => {
    const long = 'a'.repeat(60_000);
    for (const query of [`name=${long}`, `name:contains=${long}`, `identifier=${long}|${long}`, `general-practitioner=Organization/${long}`, `_id=${long}`]) {
      const response = await api.post('/fhir/Patient/_search', undefined).type('form').send(query);
      expect(response.status).toBeLessThan(500);
    }
  });

  it('serves what stays within the limits', async () => {
    const response = await api.get(`/fhir/Patient?_sort=${Array.from({ length: 8 }, () => '-birthdate').join(',')}&${repeated('name', 'a', 25)}`);
    expect(response.status).toBe(200);
  });
});
