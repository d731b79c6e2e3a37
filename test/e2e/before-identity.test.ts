import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rawRequest } from '../http/raw-request.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/**
 * Routes that take a body know the caller before they read it: a request without a valid token is answered 401 from
 * its headers, and a body longer than what the route reads for an unknown caller is not read at all (the
 * connection closes after the answer instead of draining it).
 */
let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startTestGateway(['tenant-a']);
});
afterAll(() => gateway.close());

const unreadPost = (target: string, authorization?: string, length = 5_000_000) =>
  rawRequest(gateway.url, [
    `POST ${target} HTTP/1.1`,
    'Host: gw.test',
    'Content-Type: application/fhir+json',
    `Content-Length: ${length}`,
    'Connection: keep-alive',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
  ]);

describe('bodies before identity', () => {
  it.each([
    ['the FHIR API', '/fhir/Patient'],
    ['the FHIR API (STU3)', '/fhir/stu3/Task'],
    ['the eOverdracht notification endpoint', '/eoverdracht/notification/Task/t1'],
  ])('%s answers 401 to a request without a valid token without reading its 5 MB body', async (_name, target) => {
    for (const authorization of [undefined, 'Bearer forged.token.here']) {
      const answer = await unreadPost(target, authorization);
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toMatchObject({ resourceType: 'OperationOutcome' });
    }
  });

  it('reads an authenticated caller\'s body, and refuses one beyond limits.bodyBytes unread with 413 naming the limit', async () => {
    const answer = await unreadPost('/fhir/Patient', `Bearer ${await gateway.token('tenant-a')}`, gateway.config.limits.bodyBytes + 1);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ issue: [{ code: 'too-costly', details: { text: `The body exceeds limits.bodyBytes (${gateway.config.limits.bodyBytes} bytes)` } }] });
  });
});
