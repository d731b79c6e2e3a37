import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_LIMITS } from '../../src/config/config.js';
import { pino } from 'pino';
import request from 'supertest';
import type { AuditEntry } from '../../src/audit/auditor.js';
import type { Authenticator, Principal } from '../../src/fhir/principal.js';
import { allOk, forbidden, notFound, OperationOutcomeError } from '../../src/fhir/outcome.js';
import type { Resource } from '../../src/fhir/version.js';
import { notificationEndpoint } from '../../src/transfer/notification.js';
import type { Notification } from '../../src/transfer/receiver.js';
import type { TokenBucket } from '../../src/config/config.js';
import type { Capability } from '../../src/rest/capability-contract.js';
import { createApp } from '../../src/http/app.js';
import { createMemoryGate, type MemoryGate } from '../../src/http/bodies.js';
import { auditPatientData } from '../../src/http/audit.js';
import type { ResourceRepository, Store } from '../../src/store/repository.js';
import { rawRequest } from './raw-request.js';

/**
 * The app factory with its dependencies passed in: what happens around the FHIR layer (unexpected failures, the
 * audit trail) with a store that does exactly what a test needs.
 */
const principal: Principal = { tenant: 'org-a', kind: 'organization', requester: 'org-b', purposeOfUse: 'test', resources: [] };

const authenticator: Authenticator = {
  authenticate: async (authorization) => (authorization === 'Bearer good' ? principal : { ...forbidden(), id: 'unauthorized' }),
  authorize: async (_principal, access) => (access.path === '/Patient/secret' ? forbidden('not granted') : undefined),
};

const stored: Record<string, Resource> = {
  'Patient/p1': { resourceType: 'Patient', id: 'p1', meta: { versionId: '1', lastUpdated: '2025-01-01T00:00:00Z' } },
  'Observation/o1': { resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/p1' } },
  'Organization/org1': { resourceType: 'Organization', id: 'org1' },
};

interface AppOptions {
  bodies?: MemoryGate;
  unauthenticated?: TokenBucket;
  capabilities?: Capability[];
  trustProxy?: number;
}

function appWith(read: ResourceRepository['read'], options: AppOptions = {}) {
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
    limits: { bodyBytes: 1024, unauthenticatedBodyBytes: 256, jsonDepth: 16 },
    bodies: options.bodies ?? createMemoryGate(1_000_000),
    rateLimits: { unauthenticated: options.unauthenticated ?? { capacity: 1000, refillPerSecond: 1000 } },
    store: { resources: { read } as ResourceRepository, ping: async () => true } as unknown as Store,
    validators: { r4: validator, stu3: validator },
    parseSearch: () => {
      throw new Error('unused');
    },
    restLimits: DEFAULT_LIMITS,
    searchParameters: () => [],
    authenticator,
    audit: auditPatientData({ record: async (entry) => void audited.push(entry) }),
    capabilities: options.capabilities ?? [],
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
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
        resources: ['Observation/o1'],
        request: { version: 'r4', operation: 'read', path: '/Observation/o1', resourceType: 'Observation' },
      }),
      expect.objectContaining({ outcome: 'refused', resources: ['Patient/secret'], patients: [] }),
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
    const guard: Capability = { name: 'guard', writeInterceptors: { Basic: (request, context, next) => next(request, context) } };
    const other: Capability = { name: 'other', writeInterceptors: { Task: guard.writeInterceptors!.Basic } };
    expect(() => appWith(readStored, { capabilities: [guard, other] })).not.toThrow();
    expect(() => appWith(readStored, { capabilities: [guard, { ...other, writeInterceptors: guard.writeInterceptors }] })).toThrow(
      'Two capabilities claim the writes of Basic: guard and other',
    );
  });
});

/** The app listening on a loopback port while `use` runs, for requests supertest cannot send. */
async function listening<T>(app: ReturnType<typeof appWith>['app'], use: (url: string) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const patientBody = (bytes: number) => {
  const resource = JSON.stringify({ resourceType: 'Observation', note: [{ text: '' }] });
  return resource.replace('"text":""', `"text":"${'x'.repeat(bytes - resource.length)}"`);
};

describe('request bodies and callers', () => {
  it('answers a FHIR request without a valid token before reading its body, and does not read it afterwards', async () => {
    const { app } = appWith(readStored);
    const answer = await listening(app, (url) =>
      rawRequest(url, ['POST /fhir/Patient HTTP/1.1', 'Host: gw.test', 'Content-Type: application/fhir+json', 'Content-Length: 1000000', 'Connection: keep-alive']),
    );
    expect(answer.status).toBe(401);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('reads the body of an authenticated caller up to limits.bodyBytes, and names the limit beyond it', async () => {
    const { app } = appWith(readStored);
    const post = (bytes: number) =>
      request(app).post('/fhir/Patient').set('Authorization', 'Bearer good').type('application/fhir+json').send(patientBody(bytes));
    const within = await post(1000);
    expect(within.status).toBe(400);
    expect(within.text).not.toContain('limits.');
    const beyond = await post(1100);
    expect(beyond.status).toBe(413);
    expect(beyond.body).toMatchObject({ issue: [{ code: 'too-costly', details: { text: 'The body exceeds limits.bodyBytes (1024 bytes)' } }] });
  });

  it('limits failed authentications per client address with rateLimits.unauthenticated: 429 with Retry-After beyond it', async () => {
    const { app } = appWith(readStored, { unauthenticated: { capacity: 2, refillPerSecond: 0.01 } });
    const unauthenticated = () => request(app).get('/fhir/Patient/p1').set('Authorization', 'Bearer bad');
    expect((await unauthenticated()).status).toBe(401);
    expect((await unauthenticated()).status).toBe(401);
    const limited = await unauthenticated();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled', details: { text: expect.stringContaining('rateLimits.unauthenticated (2 at once, 0.01/s)') } }] });
    expect((await request(app).get('/fhir/Patient/p1').set('Authorization', 'Bearer good')).status).toBe(200);
  });

  it('limits failed logins per client as the trusted proxy names it, and ignores X-Forwarded-For from anyone else', async () => {
    const failedFrom = (app: ReturnType<typeof appWith>['app'], client: string) => request(app).get('/fhir/Patient/p1').set('X-Forwarded-For', client).then((answer) => answer.status);
    const limits = { unauthenticated: { capacity: 1, refillPerSecond: 0.01 } };
    const behindProxy = appWith(readStored, { ...limits, trustProxy: 1 }).app;
    expect([await failedFrom(behindProxy, '198.51.100.1'), await failedFrom(behindProxy, '198.51.100.2'), await failedFrom(behindProxy, '198.51.100.1')]).toEqual([401, 401, 429]);
    const direct = appWith(readStored, limits).app;
    expect([await failedFrom(direct, '198.51.100.1'), await failedFrom(direct, '198.51.100.2')]).toEqual([401, 429]);
  });

  it('refuses a request with two Authorization headers on every route (400), as RFC 6749 JSON at the token endpoint', async () => {
    const { app } = appWith(readStored);
    const twice = (target: string) =>
      listening(app, (url) => rawRequest(url, [`GET ${target} HTTP/1.1`, 'Host: gw.test', 'Authorization: Bearer good', 'Authorization: Bearer other']));
    for (const target of ['/fhir/Patient/p1', '/fhir/stu3/Patient/p1', '/healthz', '/eoverdracht/notification/Task/1']) {
      const answer = await twice(target);
      expect([target, answer.status]).toEqual([target, 400]);
      expect(JSON.parse(answer.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ details: { text: 'The request has 2 Authorization headers; send one' } }] });
    }
    const token = await twice('/oauth2/token');
    expect(token.status).toBe(400);
    expect(JSON.parse(token.body)).toEqual({ error: 'invalid_request', error_description: 'The request has 2 Authorization headers; send one' });
  });

  it('refuses a body that finds no room in limits.inFlightBytes with 429 and Retry-After, and gives the room back once answered', async () => {
    const bodies = createMemoryGate(2048, { maxWaiting: 0, maxWaitMs: 60_000 });
    const { app } = appWith(readStored, { bodies });
    const post = () => request(app).post('/fhir/Patient').set('Authorization', 'Bearer good').type('application/fhir+json').send(patientBody(1000));
    const release = await bodies.reserve(1500);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toMatchObject({ issue: [{ code: 'throttled', details: { text: 'Request bodies in flight are at limits.inFlightBytes (2048); retry later' } }] });
    release!();
    expect((await post()).status).toBe(400);
    expect(await bodies.reserve(2048)).toBeInstanceOf(Function);
  });
});

describe('one pipeline for every route: a FHIR route and the eOverdracht notification endpoint', () => {
  const FHIR = '/fhir/Patient';
  /** The Bolt's notification (an empty POST naming the Task) and Twiin's (a notification Task POSTed to /Task). */
  const NOTIFICATION = '/eoverdracht/notification/Task/t1';
  const NOTIFICATION_TASK = '/eoverdracht/notification/Task';
  const appWithNotifications = (options: AppOptions = {}) => {
    const received: Notification[] = [];
    const receivedTasks: unknown[] = [];
    const endpoint = notificationEndpoint({
      receive: async (notification) => void received.push(notification),
      receiveTask: async (_tenant, _sender, task) => {
        receivedTasks.push(task);
        return { resourceType: 'Task', id: 'n1' };
      },
    });
    const transfer: Capability = { name: 'transfer', endpoints: [endpoint] };
    return { ...appWith(readStored, { ...options, capabilities: [transfer] }), received, receivedTasks };
  };
  /** A notification Task of `bytes` bytes (its content is the fake receiver's to judge). */
  const notificationTask = (bytes: number) => {
    const resource = JSON.stringify({ resourceType: 'Task', status: 'requested', description: '' });
    return resource.replace('"description":""', `"description":"${'x'.repeat(bytes - resource.length)}"`);
  };
  const post = (app: ReturnType<typeof appWith>['app'], target: string, body: string, authorization?: string) => {
    const call = request(app).post(target).type('application/fhir+json');
    return (authorization ? call.set('Authorization', authorization) : call).send(body);
  };

  it("serves the notification endpoint: 202 for the Bolt's empty POST, 201 with the Task taken in for a Twiin notification Task", async () => {
    const { app, received, receivedTasks, audited } = appWithNotifications();
    const answer = await post(app, NOTIFICATION, '', 'Bearer good');
    expect(answer.status).toBe(202);
    expect(received).toEqual([{ tenant: 'org-a', sender: 'org-b', remoteTask: 't1' }]);
    const created = await post(app, NOTIFICATION_TASK, notificationTask(200), 'Bearer good');
    expect([created.status, created.body]).toEqual([201, { resourceType: 'Task', id: 'n1' }]);
    expect(receivedTasks).toEqual([expect.objectContaining({ resourceType: 'Task', status: 'requested' })]);
    expect(audited).toEqual([]);
  });

  it('gives both the same 401 challenge, before and without reading the body, from one rate limit of failed authentications', async () => {
    const { app } = appWithNotifications({ unauthenticated: { capacity: 3, refillPerSecond: 0.01 } });
    const refused = await Promise.all(
      [FHIR, NOTIFICATION].map((target) =>
        listening(app, (url) =>
          rawRequest(url, [`POST ${target} HTTP/1.1`, 'Host: gw.test', 'Content-Type: application/fhir+json', 'Content-Length: 1000000', 'Connection: keep-alive']),
        ),
      ),
    );
    for (const answer of refused) {
      expect([answer.status, answer.headers['www-authenticate'], answer.headers.connection]).toEqual([401, 'Bearer realm="vervolgzorg-gateway"', 'close']);
    }
    expect(JSON.parse(refused[0]!.body)).toEqual(JSON.parse(refused[1]!.body));
    expect((await post(app, NOTIFICATION, '', 'Bearer bad')).status).toBe(401);
    expect((await post(app, NOTIFICATION, '', 'Bearer bad')).status).toBe(429);
    expect((await post(app, FHIR, '', 'Bearer bad')).status).toBe(429);
  });

  it('reads both bodies through one path: each up to its route\'s limit, refused beyond it with 413 naming that limit', async () => {
    const { app } = appWithNotifications();
    const fhirBeyond = await post(app, FHIR, patientBody(1100), 'Bearer good');
    expect([fhirBeyond.status, fhirBeyond.body]).toEqual([413, outcomeNaming('limits.bodyBytes (1024 bytes)')]);
    expect((await post(app, NOTIFICATION_TASK, notificationTask(64 * 1024), 'Bearer good')).status).toBe(201);
    const notificationBeyond = await post(app, NOTIFICATION_TASK, notificationTask(64 * 1024 + 1), 'Bearer good');
    expect([notificationBeyond.status, notificationBeyond.body]).toEqual([413, outcomeNaming('the notification body limit (65536 bytes)')]);
  });

  it('refuses both bodies alike when they find no room in limits.inFlightBytes', async () => {
    const bodies = createMemoryGate(2048, { maxWaiting: 0, maxWaitMs: 60_000 });
    const { app } = appWithNotifications({ bodies });
    const release = await bodies.reserve(1500);
    const refusals = [await post(app, FHIR, patientBody(1000), 'Bearer good'), await post(app, NOTIFICATION_TASK, notificationTask(1000), 'Bearer good')];
    release!();
    for (const refused of refusals) {
      expect([refused.status, refused.headers['retry-after'], refused.body.issue[0].code]).toEqual([429, '1', 'throttled']);
    }
  });

  it('answers bad input at the notification endpoint with a 4xx OperationOutcome, as on the FHIR bases', async () => {
    const { app, received } = appWithNotifications();
    const badId = await post(app, '/eoverdracht/notification/Task/not%20an%20id', '', 'Bearer good');
    expect([badId.status, badId.body.resourceType]).toEqual([400, 'OperationOutcome']);
    const withBody = await post(app, NOTIFICATION, JSON.stringify({ resourceType: 'Parameters' }), 'Bearer good');
    expect([withBody.status, withBody.body.issue[0].details.text]).toEqual([400, 'A notification is an empty POST (Nuts eOverdracht Bolt §4.1.3): this one has a body']);
    const malformed = await post(app, NOTIFICATION_TASK, '{"resourceType":', 'Bearer good');
    expect([malformed.status, malformed.body.resourceType]).toEqual([400, 'OperationOutcome']);
    expect((await request(app).get(NOTIFICATION).set('Authorization', 'Bearer good')).status).toBe(405);
    expect(received).toEqual([]);
  });
});

function outcomeNaming(limit: string) {
  return expect.objectContaining({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'too-costly', details: { text: `The body exceeds ${limit}` } })] });
}
