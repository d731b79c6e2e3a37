import { describe, expect, it } from '@jest/globals';
import { DEFAULT_LIMITS } from '../../src/config/config.js';
import { ResponseBudget } from '../../src/fhir/response-budget.js';
import type { AccessRequest, Authenticator, Principal } from '../../src/fhir/principal.js';
import { allOk, forbidden, notFound, OperationOutcomeError } from '../../src/fhir/outcome.js';
import { bundleInteraction } from '../../src/rest/batch.js';
import { FhirRouter, type RouteDefinition } from '../../src/rest/router.js';
import type { FhirHandler, FhirRequest, HttpMethod, RestContext } from '../../src/rest/types.js';
import type { Store } from '../../src/store/repository.js';

const principal: Principal = { tenant: 'org-a', kind: 'ehr', requester: 'ehr-1', resources: [] };

/** Answers with the route it ran and the parameters it got. */
const echo =
  (name: string): FhirHandler =>
  async (request) => [allOk, { resourceType: 'Basic', id: name, params: request.params }];

const routes: RouteDefinition[] = [
  { method: 'GET', path: ':type', access: 'search', interactions: ['search-type'], handler: echo('search') },
  { method: 'POST', path: ':type/_search', access: 'search', interactions: ['search-type'], handler: echo('search') },
  { method: 'GET', path: ':type/_history', access: 'history', interactions: ['history-type'], handler: echo('history') },
  { method: 'GET', path: ':type/:id', access: 'read', interactions: ['read'], handler: echo('read') },
  { method: 'DELETE', path: ':type/:id', access: 'delete', interactions: ['delete'], handler: echo('delete') },
  { method: 'POST', path: '', access: bundleInteraction, interactions: ['batch', 'transaction'], handler: echo('batch') },
  {
    method: 'GET',
    path: ':type/:id/_history/:vid',
    access: 'vread',
    interactions: ['vread'],
    handler: async () => {
      throw new OperationOutcomeError(notFound('no such version'));
    },
  },
  {
    method: 'PUT',
    path: ':type/:id',
    access: 'update',
    interactions: ['update'],
    handler: async () => {
      throw new Error('bug');
    },
  },
];

function setUp(decide: (request: AccessRequest) => Awaited<ReturnType<Authenticator['authorize']>> = () => undefined) {
  const asked: AccessRequest[] = [];
  const authenticator: Authenticator = {
    authenticate: async () => principal,
    authorize: async (_principal, request) => {
      asked.push(request);
      return decide(request);
    },
  };
  const router = new FhirRouter(routes);
  const context: RestContext = {
    services: { version: 'r4', validator: { validate: () => allOk, knowsProfile: () => false }, parseSearch: () => { throw new Error('unused'); }, authenticator, router, limits: DEFAULT_LIMITS },
    baseUrl: 'http://gw.test/fhir',
    principal,
    scope: { tenant: principal.tenant, version: 'r4' },
    store: {} as Store,
    accesses: [],
    budget: new ResponseBudget(DEFAULT_LIMITS.responseBytes),
  };
  const call = (method: HttpMethod, pathname: string, query: FhirRequest['query'] = {}) =>
    router.handle({ method, pathname, params: {}, query, headers: {} }, context);
  return { asked, context, call };
}

describe('FhirRouter', () => {
  it('prefers literal segments over parameters', async () => {
    const { call } = setUp();
    expect((await call('GET', 'Task/_history'))[1]).toMatchObject({ id: 'history', params: { type: 'Task' } });
    expect((await call('GET', 'Task/123'))[1]).toMatchObject({ id: 'read', params: { type: 'Task', id: '123' } });
  });

  it('answers 404 for types it does not serve and paths it does not know', async () => {
    const { call } = setUp();
    expect((await call('GET', 'Medication/1'))[0]).toMatchObject({ id: 'not-found' });
    expect((await call('GET', 'Task/1/2/3/4/5'))[0]).toMatchObject({ id: 'not-found' });
  });

  it('answers 405 when the path exists for other methods', async () => {
    const { call } = setUp();
    const [result] = await call('POST', 'Task/1');
    expect(result.id).toBe('not-allowed');
    expect(result.issue[0].details?.text).toMatch(/allowed: GET, DELETE, PUT/);
  });

  it('refuses malformed ids before any handler runs', async () => {
    const { call, asked } = setUp();
    expect((await call('GET', 'Task/a%2Fb'))[0]).toMatchObject({ id: 'bad-request' });
    expect((await call('GET', `Task/${'x'.repeat(65)}`))[0]).toMatchObject({ id: 'bad-request' });
    expect(asked).toEqual([]);
  });

  it('asks the authenticator with the operation and the path relative to the base', async () => {
    const { call, asked } = setUp();
    await call('POST', 'Task/_search');
    await call('GET', 'Task/123');
    await call('POST', '');
    expect(asked).toEqual([
      { version: 'r4', operation: 'search', path: '/Task', resourceType: 'Task' },
      { version: 'r4', operation: 'read', path: '/Task/123', resourceType: 'Task' },
      { version: 'r4', operation: 'batch', path: '/' },
    ]);
  });

  it('returns the refusal without running the handler, and records the attempt', async () => {
    const { call, context } = setUp((request) => (request.operation === 'delete' ? forbidden('no deleting') : undefined));
    const [result, resource] = await call('DELETE', 'Task/1');
    expect(result.id).toBe('forbidden');
    expect(resource).toBeUndefined();
    expect(context.accesses).toEqual([expect.objectContaining({ request: expect.objectContaining({ operation: 'delete' }), outcome: result })]);
  });

  it('records the query of a search access', async () => {
    const { call, context } = setUp();
    await call('GET', 'Task', { status: 'requested', owner: ['Organization/1', 'Organization/2'] });
    expect(context.accesses[0].query).toBe('status=requested&owner=Organization%2F1&owner=Organization%2F2');
  });

  it('returns outcomes thrown by handlers and lets other errors through', async () => {
    const { call } = setUp();
    expect((await call('GET', 'Task/1/_history/2'))[0]).toMatchObject({ id: 'not-found' });
    await expect(call('PUT', 'Task/1')).rejects.toThrow('bug');
  });

  it("records an operation's access only where its route says so, with the resources of its Parameters", async () => {
    const definition = (code: string) => ({ resourceType: 'OperationDefinition' as const, url: `http://gw.test/OperationDefinition/${code}`, code, status: 'draft' as const, kind: 'operation' as const, name: code, system: false, type: false, instance: true });
    const task = { resourceType: 'Task', id: 't1', for: { reference: 'Patient/p1' } };
    const answer: FhirHandler = async () => [allOk, { resourceType: 'Parameters', parameter: [{ name: 'task', resource: task }, { name: 'note', valueString: 'x' }] }];
    const router = new FhirRouter([
      { method: 'POST', path: 'Task/:id/$audited', access: 'operation', interactions: [], operation: definition('audited'), audit: true, handler: answer },
      { method: 'POST', path: 'Task/:id/$quiet', access: 'operation', interactions: [], operation: definition('quiet'), handler: answer },
    ]);
    const { context } = setUp();
    const request = (pathname: string): FhirRequest => ({ method: 'POST', pathname, params: {}, query: {}, headers: {} });
    await router.handle(request('Task/t1/$quiet'), context);
    expect(context.accesses).toEqual([]);
    await router.handle(request('Task/t1/$audited'), context);
    expect(context.accesses).toEqual([
      {
        request: { version: 'r4', operation: 'operation', path: '/Task/t1/$audited' },
        outcome: allOk,
        resources: [task],
        operation: { url: 'http://gw.test/OperationDefinition/audited', code: 'audited' },
      },
    ]);
  });
});
