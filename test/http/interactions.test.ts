import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { parseXml } from '../../src/fhir/xml.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/** The FHIR REST interactions over HTTP against a real gateway (SQLite, validators, EHR tokens). */
let gateway: TestGateway;
let auth: string;

beforeAll(async () => {
  gateway = await startTestGateway();
  auth = `Bearer ${await gateway.token('tenant-a')}`;
});
afterAll(async () => {
  await gateway?.close();
});

const FHIR_JSON = 'application/fhir+json';
const get = (path: string) => request(gateway.url).get(path).set('Authorization', auth);
const send = (method: 'post' | 'put' | 'delete', path: string, body?: unknown) => {
  const call = request(gateway.url)[method](path).set('Authorization', auth);
  return body === undefined ? call : call.set('Content-Type', FHIR_JSON).send(JSON.stringify(body));
};

const patient = (family: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Patient', name: [{ family }], ...extra });

describe('create, read, update, delete', () => {
  it('creates with a server id and answers Location, ETag and Last-Modified', async () => {
    const created = await send('post', '/fhir/Patient', patient('Jansen', { id: 'client-chosen' }));
    expect(created.status).toBe(201);
    expect(created.body.id).not.toBe('client-chosen');
    expect(created.headers.etag).toBe('W/"1"');
    expect(created.headers.location).toBe(`${gateway.config.publicBaseUrl}/fhir/Patient/${created.body.id}/_history/1`);
    expect(new Date(created.headers['last-modified']).getTime()).toBeGreaterThan(0);
    expect(created.headers['content-type']).toBe('application/fhir+json; charset=utf-8');

    const read = await get(`/fhir/Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers.etag).toBe('W/"1"');
  });

  it('updates with If-Match, refuses a stale version and keeps every version', async () => {
    const { body: v1 } = await send('post', '/fhir/Patient', patient('de Vries'));
    const path = `/fhir/Patient/${v1.id}`;
    const v2 = await send('put', path, { ...v1, gender: 'female' }).set('If-Match', 'W/"1"');
    expect(v2.status).toBe(200);
    expect(v2.headers.etag).toBe('W/"2"');
    expect(v2.body.gender).toBe('female');

    const stale = await send('put', path, { ...v1, gender: 'male' }).set('If-Match', 'W/"1"');
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');

    const malformed = await send('put', path, v1).set('If-Match', '1');
    expect(malformed.status).toBe(400);

    expect((await get(`${path}/_history/1`)).body.gender).toBeUndefined();
    expect((await get(`${path}/_history/2`)).body.gender).toBe('female');
    const history = await get(`${path}/_history`);
    expect(history.body).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    expect(history.body.entry.map((entry: { resource: { meta: { versionId: string } } }) => entry.resource.meta.versionId)).toEqual(['2', '1']);
  });

  it('creates with a client id through update, then deletes: 410 after, history shows the deletion', async () => {
    const path = '/fhir/Patient/client-id-1';
    expect((await send('put', path, patient('Bakker', { id: 'client-id-1' }))).status).toBe(201);
    const deleted = await send('delete', path);
    expect(deleted.status).toBe(200);
    expect(deleted.body.resourceType).toBe('OperationOutcome');
    expect((await get(path)).status).toBe(410);
    expect((await get('/fhir/Patient/never-existed')).status).toBe(404);
    const history = await get(`${path}/_history`);
    expect(history.body.entry[0]).toMatchObject({ request: { method: 'DELETE', url: 'Patient/client-id-1' } });
    expect(history.body.entry[0].resource).toBeUndefined();
  });

  it('lists the history of a type', async () => {
    const { body } = await send('post', '/fhir/Organization', { resourceType: 'Organization', name: 'VVT Zuid' });
    const history = await get('/fhir/Organization/_history?_count=5');
    expect(history.status).toBe(200);
    expect(history.body.entry.map((entry: { resource: { id: string } }) => entry.resource.id)).toContain(body.id);
  });

  it('pages a history through next links, newest first, each version once, and tells the time of the answer', async () => {
    const since = new Date().toISOString();
    const ids: string[] = [];
    for (const name of ['L1', 'L2', 'L3', 'L4', 'L5']) ids.push((await send('post', '/fhir/Location', { resourceType: 'Location', name })).body.id);
    await send('put', `/fhir/Location/${ids[0]}`, { resourceType: 'Location', id: ids[0], name: 'L1 renamed' });
    const seen: string[] = [];
    let url: string | undefined = `/fhir/Location/_history?_since=${since}&_count=2`;
    let pages = 0;
    while (url) {
      const page = await get(url);
      expect([url, page.status, page.body.issue]).toEqual([url, 200, undefined]);
      expect(Date.parse(page.body.meta.lastUpdated)).toBeGreaterThanOrEqual(Date.parse(since));
      for (const entry of page.body.entry) seen.push(`${entry.resource.id}/${entry.resource.meta.versionId}`);
      const next = page.body.link.find((link: { relation: string }) => link.relation === 'next')?.url as string | undefined;
      url = next?.slice(gateway.config.publicBaseUrl.length);
      pages += 1;
    }
    expect(pages).toBe(4);
    expect(seen).toEqual([`${ids[0]}/2`, ...[...ids].reverse().map((id) => `${id}/1`)]);
  });

  it('refuses a history cursor it did not give', async () => {
    const answer = await get('/fhir/Location/_history?_cursor=yesterday');
    expect(answer.status).toBe(400);
    expect(answer.body.issue[0].details.text).toMatch(/not one this server gave/);
  });
});

describe('conditional create (If-None-Exist)', () => {
  const bsn = (value: string) => patient('Smit', { identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value }] });

  it('creates once, then answers 200 with the existing resource', async () => {
    const criteria = 'identifier=http://fhir.nl/fhir/NamingSystem/bsn|999911120';
    const first = await send('post', '/fhir/Patient', bsn('999911120')).set('If-None-Exist', criteria);
    const second = await send('post', '/fhir/Patient', bsn('999911120')).set('If-None-Exist', criteria);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
  });

  it('answers 412 when the criteria match more than one', async () => {
    await send('post', '/fhir/Patient', bsn('999912345'));
    await send('post', '/fhir/Patient', bsn('999912345'));
    const third = await send('post', '/fhir/Patient', bsn('999912345')).set('If-None-Exist', 'identifier=999912345');
    expect(third.status).toBe(412);
  });
});

describe('Prefer: return', () => {
  it('minimal: headers only', async () => {
    const created = await send('post', '/fhir/Patient', patient('Visser')).set('Prefer', 'return=minimal');
    expect(created.status).toBe(201);
    expect(created.text).toBe('');
    expect(created.headers.location).toMatch(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
  });

  it('OperationOutcome: the outcome instead of the resource', async () => {
    const created = await send('post', '/fhir/Patient', patient('Visser')).set('Prefer', 'return=OperationOutcome');
    expect(created.status).toBe(201);
    expect(created.body.resourceType).toBe('OperationOutcome');
    expect(created.headers.etag).toBe('W/"1"');
  });
});

describe('formats', () => {
  const xmlPatient = '<Patient xmlns="http://hl7.org/fhir"><gender value="female"/><birthDate value="1940-02-03"/></Patient>';

  it('takes XML in and gives XML or JSON back, by Accept or _format', async () => {
    const created = await request(gateway.url)
      .post('/fhir/Patient')
      .set('Authorization', auth)
      .set('Content-Type', 'application/fhir+xml')
      .set('Accept', 'application/fhir+xml')
      .send(xmlPatient);
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    const { id } = parseXml('r4', created.text);
    const asJson = await get(`/fhir/Patient/${id}`);
    expect(asJson.body).toMatchObject({ resourceType: 'Patient', id, gender: 'female', birthDate: '1940-02-03' });
    const asXml = await get(`/fhir/Patient/${id}?_format=xml`);
    expect(asXml.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    expect(parseXml('r4', asXml.text)).toEqual(asJson.body);
  });

  it('pretty-prints JSON on request', async () => {
    const { body } = await send('post', '/fhir/Patient', patient('Mulder'));
    expect((await get(`/fhir/Patient/${body.id}?_pretty=true`)).text).toContain('\n  "resourceType"');
  });

  it('serves STU3 on /fhir/stu3 with its own resources', async () => {
    const created = await send('post', '/fhir/stu3/Patient', patient('Stu3'));
    expect(created.status).toBe(201);
    expect(created.headers.location).toContain('/fhir/stu3/Patient/');
    expect((await get(`/fhir/stu3/Patient/${created.body.id}`)).status).toBe(200);
    expect((await get(`/fhir/Patient/${created.body.id}`)).status).toBe(404);
  });
});

describe('search', () => {
  let subject: string;

  beforeAll(async () => {
    subject = (await send('post', '/fhir/Patient', patient('Search'))).body.id;
    for (const value of [70, 80, 90]) {
      const observation = {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '225338004', display: 'risk assessment' }] },
        subject: { reference: `Patient/${subject}` },
        valueInteger: value,
      };
      expect((await send('post', '/fhir/Observation', observation)).status).toBe(201);
    }
  });

  it('pages with _count and a next link that the server follows', async () => {
    const first = await get(`/fhir/Observation?subject=Patient/${subject}&_count=2`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(first.body.entry).toHaveLength(2);
    const links = Object.fromEntries(first.body.link.map((link: { relation: string; url: string }) => [link.relation, link.url]));
    expect(links.self).toContain(`subject=Patient%2F${subject}`);
    const next = new URL(links.next);
    const second = await get(next.pathname + next.search);
    expect(second.body.entry).toHaveLength(1);
    expect(second.body.link.some((link: { relation: string }) => link.relation === 'next')).toBe(false);
    const ids = [...first.body.entry, ...second.body.entry].map((entry: { resource: { id: string } }) => entry.resource.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('includes referenced resources with search mode include', async () => {
    const found = await get(`/fhir/Observation?subject=Patient/${subject}&_include=Observation:subject`);
    const modes = found.body.entry.map((entry: { search: { mode: string }; resource: { resourceType: string } }) => [entry.search.mode, entry.resource.resourceType]);
    expect(modes).toEqual([
      ['match', 'Observation'],
      ['match', 'Observation'],
      ['match', 'Observation'],
      ['include', 'Patient'],
    ]);
  });

  it('searches by POST _search with form parameters', async () => {
    const found = await request(gateway.url)
      .post('/fhir/Observation/_search')
      .set('Authorization', auth)
      .type('form')
      .send({ subject: `Patient/${subject}`, _total: 'accurate' });
    expect(found.status).toBe(200);
    expect(found.body.total).toBe(3);
  });

  it('refuses unknown parameters with 400 naming them, or ignores them when asked to be lenient', async () => {
    const strict = await get('/fhir/Observation?colour=blue');
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0].expression).toEqual(['colour']);
    const lenient = await get('/fhir/Observation?colour=blue&_count=1').set('Prefer', 'handling=lenient');
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry[0]).toMatchObject({ search: { mode: 'outcome' }, resource: { resourceType: 'OperationOutcome' } });
  });
});

describe('$validate', () => {
  const invalid = { resourceType: 'Patient', gender: 'unknown-gender' };

  it('answers 200 with the validation outcome, valid or not', async () => {
    const valid = await send('post', '/fhir/Patient/$validate', patient('Valid'));
    expect(valid.status).toBe(200);
    expect(valid.body.resourceType).toBe('OperationOutcome');
    expect(valid.body.issue.some((issue: { severity: string }) => issue.severity === 'error')).toBe(false);

    const refused = await send('post', '/fhir/$validate', invalid);
    expect(refused.status).toBe(200);
    expect(refused.body.issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['Patient.gender'] }));
  });

  it('takes Parameters with resource and profile', async () => {
    const parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: patient('Wrapped') },
        { name: 'profile', valueUri: 'http://example.org/unknown-profile' },
      ],
    };
    const unknownProfile = await send('post', '/fhir/stu3/$validate', parameters);
    expect(unknownProfile.status).toBe(400);
    expect(unknownProfile.body.issue[0].details.text).toContain('unknown-profile');
    const wrapped = await send('post', '/fhir/stu3/$validate', { ...parameters, parameter: [parameters.parameter[0]] });
    expect(wrapped.status).toBe(200);
  });

  it('refuses a resource of another type than the URL names', async () => {
    expect((await send('post', '/fhir/Observation/$validate', patient('x'))).status).toBe(400);
  });
});
