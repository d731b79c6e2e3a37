import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import request from 'supertest';
import type { AuditEntry } from '../../src/audit/auditor.js';
import type { Authenticator, Principal } from '../../src/auth/principal.js';
import { allOk, forbidden, notFound, OperationOutcomeError } from '../../src/fhir/outcome.js';
import type { Resource } from '../../src/fhir/version.js';
import { createApp, type HttpExtension } from '../../src/http/app.js';
import { auditPatientData } from '../../src/http/audit.js';
import type { ResourceRepository, Store } from '../../src/store/repository.js';

/**
 * The app factory with its dependencies passed in: what happens around the FHIR layer (unexpected failures, the
 * audit trail) with a store that does exactly what a test needs.
 */
const principal: Principal = { tenant: 'org-a', kind: 'organization', requester: 'org-b', purposeOfUse: 'test', resources: [] };

const authenticator: Authenticator = {
  authenticate: async (authorization) => (authorization === 'Bearer good' ? principal : { ...forbidden(), id: 'unauthorized' }),
  authorize: (_principal, access) => (access.path === '/Patient/secret' ? forbidden('not granted') : undefined),
};

const stored: Record<string, Resource> = {
  'Patient/p1': { resourceType: 'Patient', id: 'p1', meta: { versionId: '1', lastUpdated: '2025-01-01T00:00:00Z' } },
  'Observation/o1': { resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/p1' } },
  'Organization/org1': { resourceType: 'Organization', id: 'org1' },
};

function appWith(read: ResourceRepository['read'], extensions: HttpExtension[] = []) {
  const logged: Record<string, unknown>[] = [];
  const audited: AuditEntry[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logged.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const validator = { validate: () => allOk, knowsProfile: () => false, profiles: () => [] };
  const app = createApp({
    publicBaseUrl: 'http://gw.test',
    limits: { bodyBytes: 1024, jsonDepth: 16 },
    store: { resources: { read } as ResourceRepository, ping: async () => true } as unknown as Store,
    validators: { r4: validator, stu3: validator },
    parseSearch: () => {
      throw new Error('unused');
    },
    searchParameters: () => [],
    authenticator,
    audit: auditPatientData({ record: async (entry) => void audited.push(entry) }),
    extensions,
    logger: pino({ level: 'error' }, logStream),
  });
  return { app, logged, audited };
}

const readStored: ResourceRepository['read'] = async (_scope, type, id) => {
  const resource = stored[`${type}/${id}`];
  if (!resource) throw new OperationOutcomeError(notFound());
  return resource;
};

describe('createApp', () => {
  it('answers an unexpected failure with a 500 OperationOutcome that hides internals, logged with the request id', async () => {
    const { app, logged } = appWith(async () => {
      throw new Error('database password is hunter2');
    });
    const response = await request(app).get('/fhir/Patient/p1').set('Authorization', 'Bearer good').set('X-Request-Id', 'req-42');
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] });
    expect(response.text).not.toContain('hunter2');
    expect(response.text).toContain('req-42');
    expect(logged).toContainEqual(expect.objectContaining({ requestId: 'req-42', err: expect.objectContaining({ message: 'database password is hunter2' }) }));
  });

  it('audits every access to patient data, allowed or refused, naming the patient', async () => {
    const { app, audited } = appWith(readStored);
    const get = (path: string) => request(app).get(path).set('Authorization', 'Bearer good');
    expect((await get('/fhir/Observation/o1')).status).toBe(200);
    expect((await get('/fhir/Patient/secret')).status).toBe(403);
    expect((await get('/fhir/Organization/org1')).status).toBe(200);
    expect(audited).toEqual([
      expect.objectContaining({
        type: 'access',
        principal,
        outcome: 'success',
        patients: ['Patient/p1'],
        resource: 'Observation/o1',
        request: { version: 'r4', operation: 'read', path: '/Observation/o1', resourceType: 'Observation' },
      }),
      expect.objectContaining({ outcome: 'refused', resource: 'Patient/secret', patients: [] }),
    ]);
  });

  it('never calls the store for a request without a valid token', async () => {
    const { app, audited } = appWith(async () => {
      throw new Error('must not be reached');
    });
    expect((await request(app).get('/fhir/Patient/p1').set('Authorization', 'Bearer bad')).status).toBe(401);
    expect(audited).toEqual([]);
  });

  it('lets one capability decide the writes of a resource type, and refuses to start with two', () => {
    const guard: HttpExtension = { writeInterceptors: { Basic: (request, context, next) => next(request, context) } };
    expect(() => appWith(readStored, [guard, { writeInterceptors: { Task: guard.writeInterceptors!.Basic } }])).not.toThrow();
    expect(() => appWith(readStored, [guard, guard])).toThrow('Two capabilities intercept the writes of Basic');
  });
});
