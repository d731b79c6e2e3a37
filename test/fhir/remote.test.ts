import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Bundle } from '../../src/fhir/bundle.js';
import { remoteEndpoint, RemoteFailure, type Authorization } from '../../src/fhir/client/remote.js';

/**
 * The outbound FHIR client against a stand-in organisation on loopback, with an authorization that admits one base
 * and hands out numbered tokens: what leaves, with which headers, and what comes back.
 */
interface Seen {
  method: string;
  url: string;
  authorization?: string;
  ifMatch?: string;
  contentType?: string;
  body: string;
}

let server: Server;
let origin: string;
let seen: Seen[];
/** The stand-in's answer to the request in hand; a 200 with the Task by default. */
let answer: (request: Seen, res: ServerResponse) => void;

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
const task = { resourceType: 'Task', id: '1', status: 'requested' };
const conflict = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict', details: { text: 'version 2 is current' } }] };

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const request: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      ifMatch: req.headers['if-match'],
      contentType: req.headers['content-type'],
      body: await readBody(req),
    };
    seen.push(request);
    answer(request, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let tokens: number;
let headersAskedFor: { method: string; url: string }[];
const authorization: Authorization = {
  admit(url) {
    if (!url.href.startsWith(`${origin}/fhir/`)) throw new Error(`${url.href} is not an endpoint`);
  },
  async headers({ method, url }) {
    headersAskedFor.push({ method, url: url.href });
    return { authorization: `Bearer token-${tokens}` };
  },
  refused() {
    tokens += 1;
  },
};

beforeEach(() => {
  seen = [];
  tokens = 1;
  headersAskedFor = [];
  answer = (_request, res) => json(res, 200, task);
});

const fhir = () => remoteEndpoint(`${origin}/fhir`, authorization);

describe('outbound FHIR client (fhir-kit-client behind the request signer)', () => {
  it('reads with the bearer header the authorization gives, which sees method and URL (room for a DPoP proof)', async () => {
    expect(await fhir().read('Task/1')).toEqual(task);
    expect(seen).toEqual([expect.objectContaining({ method: 'GET', url: '/fhir/Task/1', authorization: 'Bearer token-1' })]);
    expect(headersAskedFor).toEqual([{ method: 'GET', url: `${origin}/fhir/Task/1` }]);
  });

  it('sends a batch to the base and an update with If-Match, and posts JSON text byte for byte', async () => {
    answer = (request, res) => json(res, 200, request.method === 'POST' ? { resourceType: 'Bundle', type: 'batch-response', entry: [] } : task);
    const batch: Bundle = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Task/1' } }] };
    expect(await fhir().batch(batch)).toMatchObject({ type: 'batch-response' });
    await fhir().update(task, '3');
    const text = '{ "resourceType" : "MeasureReport" }';
    await remoteEndpoint(`${origin}/fhir/MeasureReport`, authorization).post(text);
    expect(seen).toEqual([
      expect.objectContaining({ method: 'POST', url: '/fhir/', body: JSON.stringify(batch), contentType: 'application/fhir+json' }),
      expect.objectContaining({ method: 'PUT', url: '/fhir/Task/1', ifMatch: 'W/"3"', body: JSON.stringify(task) }),
      expect.objectContaining({ method: 'POST', url: '/fhir/MeasureReport', body: text, contentType: 'application/fhir+json' }),
    ]);
  });

  it('lets nothing leave that the authorization does not admit, whatever the URL is made of', async () => {
    await expect(remoteEndpoint(`${origin}/admin`, authorization).read('Task/1')).rejects.toThrow(/not an endpoint/);
    await expect(fhir().read(`${origin}/admin/Task/1`)).rejects.toThrow(/not an endpoint/);
    await expect(fhir().read('../admin')).rejects.toThrow(/not an endpoint/);
    await expect(remoteEndpoint(`${origin}/admin`, authorization).post(task)).rejects.toThrow(/not an endpoint/);
    expect(seen).toEqual([]);
    expect(headersAskedFor).toEqual([]);
  });

  it('does not follow a redirect, not even to an admitted URL', async () => {
    answer = (request, res) => (request.url === '/fhir/Task/1' ? res.writeHead(302, { location: '/fhir/Task/2' }).end() : json(res, 200, task));
    await expect(fhir().read('Task/1')).rejects.toThrow(/fetch failed/);
    expect(seen.map((request) => request.url)).toEqual(['/fhir/Task/1']);
  });

  it('gives up on an answer that does not come in time', async () => {
    const unanswered: ServerResponse[] = [];
    answer = (_request, res) => unanswered.push(res);
    const started = Date.now();
    await expect(remoteEndpoint(`${origin}/fhir`, authorization, { timeoutMs: 200 }).read('Task/1')).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const res of unanswered) res.destroy();
  });

  it('tries a 401 once more with a fresh token, and only once', async () => {
    answer = (request, res) => (request.authorization === 'Bearer token-2' ? json(res, 200, task) : json(res, 401, {}));
    expect(await fhir().read('Task/1')).toEqual(task);
    expect(seen.map((request) => request.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);

    seen = [];
    answer = (_request, res) => json(res, 401, {});
    await expect(fhir().update(task, '3')).rejects.toMatchObject({ status: 401 });
    expect(seen.map((request) => [request.authorization, request.body])).toEqual([
      ['Bearer token-2', JSON.stringify(task)],
      ['Bearer token-3', JSON.stringify(task)],
    ]);
  });

  it("answers a refusal as a RemoteFailure that carries the other side's OperationOutcome", async () => {
    answer = (_request, res) => json(res, 409, conflict);
    const failure = await fhir().update(task, '1').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RemoteFailure);
    expect(failure).toMatchObject({ status: 409, outcome: conflict, message: `answered 409: ${JSON.stringify(conflict)}` });
  });

  it('refuses an answer that is not JSON or nests deeper than a resource may', async () => {
    answer = (_request, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
    await expect(fhir().read('Task/1')).rejects.toMatchObject({ name: 'RemoteFailure', status: 200, body: '<html>proxy login</html>' });
    answer = (_request, res) => res.writeHead(200).end(`{"resourceType":"Task","a":${'['.repeat(100)}${']'.repeat(100)}}`);
    await expect(fhir().read('Task/1')).rejects.toThrow(/Nesting deeper than 64/);
  });
});
