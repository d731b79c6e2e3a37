import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseXml } from '../../src/fhir/xml.js';
import { startTestGateway, type TestGateway } from './gateway.js';

/**
 * Random bodies, headers, paths and queries, with and without a valid token: the gateway never answers 5xx, and
 * every refusal is an OperationOutcome in the format the response declares.
 */
let gateway: TestGateway;
let token: string;

beforeAll(async () => {
  gateway = await startTestGateway(['fuzz'], { limits: { bodyBytes: 16_384, jsonDepth: 32 } });
  token = await gateway.token('fuzz');
});
afterAll(async () => {
  await gateway?.close();
});

const visibleAscii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
const segment = fc.oneof(
  fc.constantFrom('Patient', 'Task', 'Composition', 'Bundle', 'Observation', 'metadata', '_history', '_search', '$validate', 'Medication', '__proto__', '..', '%00', '%E0%A4%A'),
  fc.stringMatching(/^[A-Za-z0-9\-.]{1,70}$/),
  visibleAscii.map(encodeURIComponent),
);
const base = fc.constantFrom('/fhir', '/fhir/stu3');
const servedType = fc.oneof({ arbitrary: fc.constant('Patient'), weight: 3 }, fc.constantFrom('Task', 'Composition', 'Bundle', 'Observation', 'Basic'));
const id = fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/), weight: 3 }, { arbitrary: segment, weight: 1 });
/** Mostly the shapes the router serves, so that input reaches the handlers; sometimes anything. */
const path = fc.oneof(
  { arbitrary: fc.tuple(base, servedType).map(([root, type]) => `${root}/${type}`), weight: 3 },
  { arbitrary: fc.tuple(base, servedType, id).map(([root, type, which]) => `${root}/${type}/${which}`), weight: 3 },
  { arbitrary: fc.tuple(base, servedType, id, id).map(([root, type, which, version]) => `${root}/${type}/${which}/_history/${version}`), weight: 1 },
  { arbitrary: fc.tuple(base, servedType, fc.constantFrom('_search', '_history', '$validate')).map((parts) => parts.join('/')), weight: 2 },
  { arbitrary: fc.tuple(base, fc.constantFrom('', '/', '/$validate', '/metadata')).map((parts) => parts.join('')), weight: 2 },
  { arbitrary: fc.tuple(base, fc.array(segment, { maxLength: 4 })).map(([root, segments]) => [root, ...segments].join('/')), weight: 1 },
);
const anyQuery = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('_format', '_count', '_offset', '_include', '_since', '_total', '_sort', 'identifier', 'status', '_id', 'profile', '_pretty', 'subject:Patient', 'owner.name'), visibleAscii),
      visibleAscii,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? '?' + new URLSearchParams(pairs).toString() : ''));
const query = fc.oneof({ arbitrary: fc.constant(''), weight: 2 }, anyQuery);

const resourceType = fc.constantFrom('Patient', 'Task', 'Bundle', 'Observation', 'Parameters', 'NotAType', '');
/** Close to valid, so that some writes succeed and others reach the validator. */
const nearlyValidPatient = fc
  .record(
    {
      resourceType: fc.constant('Patient'),
      id: fc.stringMatching(/^[a-z0-9]{1,8}$/),
      gender: fc.constantFrom('male', 'female', 'unknown', 'x'),
      birthDate: fc.constantFrom('1940-01-01', '1940', '01-01-1940'),
      active: fc.oneof(fc.boolean(), fc.string()),
      name: fc.array(fc.record({ family: fc.string(), given: fc.array(fc.string(), { maxLength: 2 }) }), { maxLength: 2 }),
    },
    { requiredKeys: ['resourceType'] },
  )
  .map((value) => JSON.stringify(value));
const hostileJson = fc.oneof(
  { arbitrary: nearlyValidPatient, weight: 2 },
  fc.json({ maxDepth: 6 }),
  fc.record({ resourceType, id: fc.oneof(fc.string(), fc.integer()) }).map((value) => JSON.stringify(value)),
  fc
    .tuple(resourceType, fc.jsonValue({ maxDepth: 5 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'name', 'entry', 'status', 'meta'))
    .map(([type, value, key]) => `{"resourceType":"${type}","${key}":${JSON.stringify(value)}}`),
  fc.integer({ min: 1, max: 200 }).map((depth) => `{"resourceType":"Basic","extension":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc
    .array(fc.record({ request: fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', ''), url: visibleAscii }), fullUrl: fc.string(), resource: fc.jsonValue({ maxDepth: 3 }) }), { maxLength: 4 })
    .chain((entry) => fc.constantFrom('batch', 'transaction', 'collection').map((type) => JSON.stringify({ resourceType: 'Bundle', type, entry }))),
);
const hostileXml = fc.oneof(
  fc.string().map((text) => `<Patient xmlns="http://hl7.org/fhir">${text}</Patient>`),
  fc.constantFrom(
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><Patient xmlns="http://hl7.org/fhir"/>',
    '<Patient xmlns="http://hl7.org/fhir"><__proto__ value="x"/></Patient>',
    '<Patient><id value="no-namespace"/></Patient>',
    '<Task xmlns="http://hl7.org/fhir"><status value="requested"/><intent value="order"/></Task>',
  ),
  fc.integer({ min: 1, max: 300 }).map((depth) => `<Basic xmlns="http://hl7.org/fhir">${'<extension>'.repeat(depth)}${'</extension>'.repeat(depth)}</Basic>`),
);
const body = fc.oneof({ arbitrary: hostileJson, weight: 3 }, hostileXml, fc.string(), fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')));

const contentType = fc.oneof(
  { arbitrary: fc.constantFrom('application/fhir+json', 'application/fhir+xml'), weight: 4 },
  fc.constantFrom(
    'application/fhir+json',
    'application/fhir+xml',
    'application/json',
    'application/xml',
    'text/xml; charset=utf-8',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
  ),
  visibleAscii,
);
const headers = fc.record(
  {
    'content-type': contentType,
    accept: fc.oneof(
      { arbitrary: fc.constantFrom('application/fhir+json', 'application/fhir+xml', '*/*'), weight: 6 },
      fc.constantFrom('text/html', 'application/fhir+xml;q=0'),
      visibleAscii,
    ),
    'if-match': fc.oneof(fc.constantFrom('W/"1"', '"2"', 'W/""', '*'), visibleAscii),
    'if-none-exist': fc.oneof(fc.constantFrom('identifier=x', '_id=1', 'colour=blue'), visibleAscii),
    prefer: fc.oneof(fc.constantFrom('return=minimal', 'return=OperationOutcome', 'handling=lenient'), visibleAscii),
    'x-request-id': visibleAscii,
  },
  { requiredKeys: [] },
);
const authorization = fc.constantFrom('valid', 'valid', 'valid', 'none', 'garbage');
const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), weight: 6 }, fc.constantFrom('PATCH', 'OPTIONS', 'HEAD'));

function isOperationOutcome(text: string, type: string | null): boolean {
  if (type?.startsWith('application/fhir+xml')) return parseXml('r4', text).resourceType === 'OperationOutcome';
  return (JSON.parse(text) as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}

async function send(verb: string, where: string, requestHeaders: Record<string, string>, payload: string): Promise<void> {
  const response = await fetch(gateway.url + where, { method: verb, headers: requestHeaders, body: verb === 'GET' || verb === 'HEAD' ? undefined : payload });
  const text = await response.text();
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400 && verb !== 'HEAD') expect(isOperationOutcome(text, response.headers.get('content-type'))).toBe(true);
}

describe('bad input over HTTP', () => {
  it('never answers 5xx to anything; every refusal is an OperationOutcome', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, authorization, async (verb, where, search, sent, payload, credential) => {
        const requestHeaders: Record<string, string> = { ...sent };
        if (credential === 'valid') requestHeaders.authorization = `Bearer ${token}`;
        if (credential === 'garbage') requestHeaders.authorization = 'Bearer x.y.z';
        await send(verb, where + search, requestHeaders, payload);
      }),
      { numRuns: 250 },
    );
  });

  it('never answers 5xx to hostile bodies in otherwise proper writes', async () => {
    const write = fc.oneof(
      fc.tuple(fc.constant('POST'), fc.tuple(base, servedType).map(([root, type]) => `${root}/${type}`)),
      fc.tuple(fc.constant('PUT'), fc.tuple(base, servedType, id).map(([root, type, which]) => `${root}/${type}/${which}`)),
      fc.tuple(fc.constant('POST'), fc.tuple(base, fc.constantFrom('', '/$validate', '/Patient/$validate')).map((parts) => parts.join(''))),
    );
    const format = fc.constantFrom('application/fhir+json', 'application/fhir+xml');
    await fc.assert(
      fc.asyncProperty(write, format, format, body, async ([verb, where], sentType, wantedType, payload) => {
        await send(verb, where, { authorization: `Bearer ${token}`, 'content-type': sentType, accept: wantedType }, payload);
      }),
      { numRuns: 250 },
    );
  });
});
