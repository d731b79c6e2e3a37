import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { parseXml } from '../../src/fhir/xml.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/** Every refusal is an OperationOutcome with the right status, in the requested format, pointing at the problem. */
let gateway: TestGateway;
let auth: string;

beforeAll(async () => {
  gateway = await startTestGateway(['tenant-a'], { limits: { bodyBytes: 4096, jsonDepth: 16 } });
  auth = `Bearer ${await gateway.token('tenant-a')}`;
});
afterAll(async () => {
  await gateway?.close();
});

const post = (path: string, body: string, contentType = 'application/fhir+json') =>
  request(gateway.url).post(path).set('Authorization', auth).set('Content-Type', contentType).send(body);
const put = (path: string, body: unknown) =>
  request(gateway.url).put(path).set('Authorization', auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));

function expectOutcome(response: request.Response, status: number, expression?: string) {
  expect(response.status).toBe(status);
  expect(response.body.resourceType).toBe('OperationOutcome');
  expect(response.body.issue[0].severity).toBe('error');
  if (expression) expect(response.body.issue.flatMap((issue: { expression?: string[] }) => issue.expression ?? [])).toContain(expression);
}

describe('authentication', () => {
  it('answers 401 with a Bearer challenge without a token or with a bad one', async () => {
    const none = await request(gateway.url).get('/fhir/Patient');
    expectOutcome(none, 401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    const bad = await request(gateway.url).get('/fhir/stu3/Patient/1').set('Authorization', 'Bearer not-a-token');
    expectOutcome(bad, 401);
    expect(bad.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('serves both CapabilityStatements without a token, in JSON and XML', async () => {
    const r4 = await request(gateway.url).get('/fhir/metadata');
    expect(r4.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    const stu3 = await request(gateway.url).get('/fhir/stu3/metadata').set('Accept', 'application/fhir+xml');
    expect(parseXml('stu3', stu3.text)).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '3.0.2' });
  });
});

describe('content negotiation', () => {
  it('answers 406 for formats it cannot produce', async () => {
    expectOutcome(await request(gateway.url).get('/fhir/metadata').set('Accept', 'image/png'), 406);
    expectOutcome(await request(gateway.url).get('/fhir/metadata?_format=html'), 406);
  });

  it('answers 415 for bodies it cannot read', async () => {
    expectOutcome(await post('/fhir/Patient', 'name=x', 'text/plain'), 415);
    expectOutcome(await post('/fhir/Patient', 'name=x', 'application/x-www-form-urlencoded'), 415);
  });

  it('answers in the requested format, errors too', async () => {
    const response = await post('/fhir/Patient?_format=xml', '{"resourceType":');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    expect(parseXml('r4', response.text)).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('gives STU3 clients the position in location as well', async () => {
    const response = await put('/fhir/stu3/Patient/a', { resourceType: 'Patient', id: 'b' });
    expect(response.body.issue[0]).toMatchObject({ expression: ['Patient.id'], location: ['Patient.id'] });
  });
});

describe('malformed and hostile bodies', () => {
  it('refuses malformed JSON and XML with 400', async () => {
    expectOutcome(await post('/fhir/Patient', '{"resourceType": "Patient",'), 400);
    expectOutcome(await post('/fhir/Patient', '<Patient xmlns="http://hl7.org/fhir"><gender value="male"></Patient>', 'application/fhir+xml'), 400);
    expectOutcome(await post('/fhir/Patient', '<!DOCTYPE x [<!ENTITY a "aaaa">]><Patient xmlns="http://hl7.org/fhir"/>', 'application/fhir+xml'), 400);
    expectOutcome(await post('/fhir/Patient', '[1, 2]'), 400);
  });

  it('refuses prototype keys anywhere with 400 naming the element', async () => {
    expectOutcome(await post('/fhir/Patient', '{"resourceType":"Patient","name":[{"__proto__":{"admin":true}}]}'), 400, 'Patient.name[0].__proto__');
    expectOutcome(await post('/fhir/Patient', '{"resourceType":"Patient","constructor":{"prototype":{}}}'), 400, 'Patient.constructor');
  });

  it('refuses nesting deeper than limits.jsonDepth with 400', async () => {
    const deep = '{"resourceType":"Basic","extension":' + '['.repeat(40) + ']'.repeat(40) + '}';
    expectOutcome(await post('/fhir/Basic', deep), 400);
  });

  it('answers a request line or headers over the HTTP parser limit with 431 and an OperationOutcome', async () => {
    const response = await fetch(`${gateway.url}/fhir/Patient?${'name=x&'.repeat(3000)}`, { headers: { authorization: auth } });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const refusal = (await response.json()) as { resourceType: string; issue: { code: string }[] };
    expect(refusal).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'too-costly' }] });
  });

  it('refuses bodies over limits.bodyBytes with 413', async () => {
    const big = JSON.stringify({ resourceType: 'Patient', name: [{ text: 'x'.repeat(5000) }] });
    expectOutcome(await post('/fhir/Patient', big), 413);
  });
});

describe('mismatches and invalid resources', () => {
  it('answers 404 for types this server does not serve', async () => {
    expectOutcome(await request(gateway.url).get('/fhir/Medication/1').set('Authorization', auth), 404);
    expectOutcome(await request(gateway.url).get('/fhir/NotAType').set('Authorization', auth), 404);
  });

  it('refuses a body whose type differs from the URL', async () => {
    expectOutcome(await post('/fhir/Observation', JSON.stringify({ resourceType: 'Patient' })), 400, 'Patient.resourceType');
  });

  it('refuses an update without id or with another id than the URL', async () => {
    expectOutcome(await put('/fhir/Patient/p1', { resourceType: 'Patient' }), 400, 'Patient.id');
    expectOutcome(await put('/fhir/Patient/p1', { resourceType: 'Patient', id: 'p2' }), 400, 'Patient.id');
  });

  it('refuses an invalid resource with 422 and the issues of the validator', async () => {
    const response = await post('/fhir/Patient', JSON.stringify({ resourceType: 'Patient', gender: 'x', birthDate: '03-02-1940' }));
    expectOutcome(response, 422, 'Patient.gender');
    expect(response.body.issue.flatMap((issue: { expression?: string[] }) => issue.expression ?? [])).toContain('Patient.birthDate');
  });

  it('answers 405 for methods a path does not take', async () => {
    expectOutcome(await request(gateway.url).patch('/fhir/Patient/p1').set('Authorization', auth), 405);
  });

  it('answers unknown paths outside the FHIR bases with a 404 OperationOutcome', async () => {
    expectOutcome(await request(gateway.url).get('/nothing-here'), 404);
  });
});

describe('operability', () => {
  it('echoes a sensible X-Request-Id and makes one otherwise', async () => {
    expect((await request(gateway.url).get('/healthz').set('X-Request-Id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
    expect((await request(gateway.url).get('/healthz').set('X-Request-Id', 'bad id\twith spaces')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps an idle keep-alive connection open longer than clients and ingresses do (they close first, no reset race)', async () => {
    const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
    const answers: string[] = [];
    socket.on('data', (chunk) => answers.push(String(chunk)));
    const ask = () => socket.write('GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n');
    await new Promise((resolve) => socket.once('connect', resolve));
    ask();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(socket.destroyed || socket.readableEnded).toBe(false);
    ask();
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.destroy();
    expect(answers.join('').match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  }, 15_000);

  it('reports liveness, readiness and metrics by route pattern', async () => {
    expect((await request(gateway.url).get('/healthz')).status).toBe(200);
    expect((await request(gateway.url).get('/readyz')).body).toEqual({ status: 'ready' });
    await request(gateway.url).get('/fhir/Patient/some-id').set('Authorization', auth);
    const metrics = await request(gateway.url).get('/metrics');
    expect(metrics.text).toContain('http_requests_total{method="GET",route="/fhir/:type/:id",status="404"}');
    expect(metrics.text).toContain('process_cpu_user_seconds_total');
    for (const gauge of ['gateway_index_backlog_resources', 'gateway_index_set_aside_resources']) expect(metrics.text).toMatch(new RegExp(`^${gauge} \\d+$`, 'm'));
    expect(metrics.text).toContain('# TYPE gateway_outbox_messages gauge');
    expect(metrics.text).toContain('# TYPE gateway_subscriptions gauge');
  });
});
