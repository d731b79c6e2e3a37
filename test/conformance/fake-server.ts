import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml, toXml } from '../../src/fhir/xml.js';

/**
 * A small FHIR server for the conformance runner's tests, in plain node http: create, read, vread, update, delete,
 * search by `family` and transactions of creates on an in-memory store, JSON or XML by Accept and Content-Type. A `mutation` breaks its answers
 * on purpose, so a test can see the runner fail the right assert.
 */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Mutation {
  /** Which answers to break: method and a path prefix, e.g. `GET /Patient/`. */
  applies: (request: SeenRequest) => boolean;
  status?: number;
  contentType?: string;
  resource?: (resource: Resource) => Resource;
}

export interface FakeFhirServer {
  base: string;
  seen: SeenRequest[];
  mutation?: Mutation;
  reset(): void;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });

const wantsXml = (header: string | undefined) => header?.includes('xml') ?? false;

export async function startFakeFhirServer(version: FhirVersion): Promise<FakeFhirServer> {
  const store = new Map<string, Resource>();
  let nextId = 1;
  const fake: FakeFhirServer = {
    base: '',
    seen: [],
    reset() {
      store.clear();
      nextId = 1;
      fake.seen.length = 0;
      fake.mutation = undefined;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  function answer(request: SeenRequest, res: ServerResponse, status: number, resource?: Resource, headers: Record<string, string> = {}): void {
    const mutation = fake.mutation?.applies(request) ? fake.mutation : undefined;
    const body = resource && mutation?.resource ? mutation.resource(structuredClone(resource)) : resource;
    const xml = wantsXml(request.headers.accept);
    const contentType = mutation?.contentType ?? (xml ? 'application/fhir+xml' : 'application/fhir+json');
    res.writeHead(mutation?.status ?? status, { ...headers, ...(body ? { 'content-type': `${contentType}; charset=utf-8` } : {}) });
    res.end(body ? (xml ? toXml(version, body) : JSON.stringify(body)) : undefined);
  }

  const notFound = (path: string): Resource => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: `${path} not found` }] });

  function handle(request: SeenRequest, res: ServerResponse): void {
    const url = new URL(request.path, 'http://fake');
    const [type, id, history, versionId] = url.pathname.split('/').filter(Boolean);
    const key = `${type}/${id}`;
    const sent = () => (wantsXml(request.headers['content-type']) ? parseXml(version, request.body) : (JSON.parse(request.body) as Resource));
    const create = (resource: Resource) => {
      const created = { ...resource, id: `p-${nextId++}`, meta: { versionId: '1' } };
      store.set(`${created.resourceType}/${created.id}`, created);
      return created;
    };
    if (request.method === 'POST' && !type) {
      const entries = (sent().entry as { resource: Resource }[]).map((entry) => create(entry.resource));
      const response = (created: Resource) => ({ response: { status: '201 Created', location: `${created.resourceType}/${created.id}/_history/1` } });
      return answer(request, res, 200, { resourceType: 'Bundle', type: 'transaction-response', entry: entries.map(response) });
    }
    if (request.method === 'POST' && type && !id) {
      const created = create(sent());
      return answer(request, res, 201, created, { location: `${fake.base}/${type}/${created.id}/_history/1` });
    }
    if (request.method === 'GET' && history === '_history' && store.get(key)?.meta?.versionId !== versionId) return answer(request, res, 404, notFound(request.path));
    if (request.method === 'PUT' && id) {
      const existed = store.has(key);
      const updated = { ...sent(), id, meta: { versionId: String(Number(store.get(key)?.meta?.versionId ?? 0) + 1) } };
      store.set(key, updated);
      return answer(request, res, existed ? 200 : 201, updated);
    }
    if (request.method === 'GET' && id) return store.has(key) ? answer(request, res, 200, store.get(key)) : answer(request, res, 404, notFound(key));
    if (request.method === 'GET' && type) {
      const family = url.searchParams.get('family');
      const found = [...store.values()].filter((resource) => resource.resourceType === type && (!family || JSON.stringify(resource.name ?? []).includes(family)));
      return answer(request, res, 200, { resourceType: 'Bundle', type: 'searchset', total: found.length, entry: found.map((resource) => ({ resource })) });
    }
    if (request.method === 'DELETE' && id) return store.delete(key) ? answer(request, res, 204) : answer(request, res, 404, notFound(key));
    return answer(request, res, 400, notFound(request.path));
  }

  const server: Server = createServer(async (req, res) => {
    const request: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: await readBody(req) };
    fake.seen.push(request);
    try {
      handle(request, res);
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end((error as Error).message);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
