import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseXml } from '../../src/fhir/xml.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { authorization, base, body, headers, id, method, path, query, servedType } from './hostile-input.js';

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
