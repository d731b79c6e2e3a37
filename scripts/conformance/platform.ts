import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { relativeReferences } from '../../src/fhir/references.js';
import { toXml } from '../../src/fhir/xml.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import type { Exchange, ReceivedResponse, SentRequest } from './context.js';
import { mimeType } from './request.js';
import { parseResourceText } from './script-file.js';

/**
 * The test platform's own FHIR server: the other system of a two-system TestScript, played by the runner. One per
 * run, on its own port; its base is the platform's address for the system under test, which reaches it as a
 * trusted counterparty (FHIR base, Bolt/Twiin notification endpoint and token endpoint all under `base`):
 * - `POST {base}/oauth2/token` gives any grant a bearer token (the platform is the test's, not the subject of it);
 * - `POST {base}/{id}` with no body is a Bolt notification (202, Nuts eOverdracht Bolt §4.1.3), with a body 400;
 * - `POST {base}/Task` is a Twiin notification Task, answered 201 with the Task as taken in;
 * - read, update (create with the client's id), batch of reads, and operations the script awaits (e.g.
 *   `Composition/{id}/$document`: the document of the Composition and everything it references) on what the platform
 *   holds: what the script loads into its simulated system.
 * Every request is kept with its answer, until a script's awaited operation takes it (`next`); the platform's own
 * loads into its simulated system (marked with OWN_REQUEST) are served, not kept.
 */
export const OWN_REQUEST = { 'x-test-platform': 'simulated-system' };

export interface Platform {
  /** The FHIR base (and notification endpoint) the system under test is given for the platform. */
  readonly base: string;
  /** What the platform's simulated system holds, by `Type/id`. */
  readonly resources: Map<string, Resource>;
  /** Operations (`$name`) the platform serves besides the interactions; set per script to those it awaits. */
  operations: Set<string>;
  /** The first request not yet taken that `matches`, waiting up to `timeoutMs` for it. */
  next(matches: (request: SentRequest) => boolean, timeoutMs: number): Promise<Exchange>;
  close(): Promise<void>;
}

const OUTCOME = (status: number, text: string): Resource => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: status >= 400 ? 'error' : 'information', code: status === 404 ? 'not-found' : status >= 400 ? 'invalid' : 'informational', diagnostics: text }],
});

export async function startPlatform(version: FhirVersion, port = 0, host = '127.0.0.1'): Promise<Platform> {
  const resources = new Map<string, Resource>();
  const received: Exchange[] = [];
  const waiting = new Set<() => void>();
  let operations = new Set<string>();

  function answer(request: SentRequest): { status: number; resource?: Resource } {
    const path = request.url.slice(base.length).split('?')[0]!.replace(/^\/+/, '').split('/');
    const [type, id, operation] = path;
    if (request.method === 'POST' && type === 'oauth2' && id === 'token') return { status: 200 };
    if (request.method === 'POST' && !type) return batch(request.resource);
    if (request.method === 'POST' && type && !/^[A-Z]/.test(type) && !id) {
      return request.body ? { status: 400, resource: OUTCOME(400, 'A notification is an empty POST') } : { status: 202 };
    }
    if (request.method === 'POST' && type === 'Task' && !id) return { status: 201, resource: { ...request.resource!, id: randomUUID() } };
    if (request.method === 'GET' && type && id && operation === '$document') return document(id);
    if (request.method === 'GET' && type && id && !operation) {
      const found = resources.get(`${type}/${id}`);
      return found ? { status: 200, resource: found } : { status: 404, resource: OUTCOME(404, `${type}/${id} is not known`) };
    }
    if (request.method === 'PUT' && type && id && request.resource) {
      const existed = resources.has(`${type}/${id}`);
      const stored = { ...request.resource, id };
      resources.set(`${type}/${id}`, stored);
      return { status: existed ? 200 : 201, resource: stored };
    }
    return { status: 400, resource: OUTCOME(400, `${request.method} ${path.join('/')} is not served by the test platform`) };
  }

  function batch(bundle: Resource | undefined): { status: number; resource?: Resource } {
    const entries = (bundle?.entry as { request?: { method?: string; url?: string } }[] | undefined) ?? [];
    const entry = entries.map(({ request }) => {
      const key = request?.method === 'GET' ? request.url?.replace(/^\//, '') : undefined;
      const found = key ? resources.get(key) : undefined;
      return found ? { resource: found, response: { status: '200 OK' } } : { response: { status: '404 Not Found' } };
    });
    return { status: 200, resource: { resourceType: 'Bundle', type: 'batch-response', entry } };
  }

  /** `$document`: the Composition and every resource it references, once each, as a document Bundle. */
  function document(id: string): { status: number; resource?: Resource } {
    if (!operations.has('$document')) return { status: 404, resource: OUTCOME(404, 'This server does not offer $document') };
    const composition = resources.get(`Composition/${id}`);
    if (!composition) return { status: 404, resource: OUTCOME(404, `Composition/${id} is not known`) };
    const gathered = new Map<string, Resource>([[`Composition/${id}`, composition]]);
    let level = [composition];
    while (level.length > 0) {
      level = level.flatMap(relativeReferences).filter((key) => !gathered.has(key) && resources.has(key)).map((key) => {
        gathered.set(key, resources.get(key)!);
        return resources.get(key)!;
      });
    }
    const entry = [...gathered].map(([key, resource]) => ({ fullUrl: `${base}/${key}`, resource }));
    return { status: 200, resource: { resourceType: 'Bundle', id: randomUUID(), type: 'document', identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` }, entry } };
  }

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(incoming.headers).map(([name, value]) => [name, String(value)]));
    const request: SentRequest = { method: incoming.method ?? 'GET', url: `${base}${incoming.url?.replace(/^\/fhir/, '') ?? ''}`, headers, ...(body ? { body } : {}) };
    if (body && !headers['content-type']?.includes('x-www-form-urlencoded')) {
      try {
        request.resource = parseResourceText(body, version, `${request.method} ${request.url}`);
      } catch {
        // kept as text: an assert on it fails with the reason
      }
    }
    const { status, resource } = answer(request);
    const token = new URL(request.url).pathname.endsWith('/oauth2/token');
    const format = /xml/.test(headers.accept ?? '') ? 'xml' : 'json';
    const text = token ? JSON.stringify({ access_token: randomUUID(), token_type: 'Bearer', expires_in: 300 }) : resource ? (format === 'xml' ? toXml(version, resource) : JSON.stringify(resource)) : '';
    const responseHeaders: Record<string, string> = text ? { 'content-type': token ? 'application/json' : mimeType(format) } : {};
    if (resource?.id && status === 201) responseHeaders.location = `${base}/${resource.resourceType}/${resource.id}`;
    outgoing.writeHead(status, responseHeaders).end(text);
    if (token || headers['x-test-platform'] === OWN_REQUEST['x-test-platform']) return;
    const response: ReceivedResponse = { status, headers: responseHeaders, body: text, ...(resource ? { resource } : {}) };
    received.push({ request, response });
    for (const wake of waiting) wake();
  }

  const server: Server = createServer((incoming, outgoing) => {
    handle(incoming, outgoing).catch((error: unknown) => outgoing.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const base = `http://${host}:${(server.address() as AddressInfo).port}/fhir`;

  return {
    base,
    resources,
    get operations() {
      return operations;
    },
    set operations(names) {
      operations = names;
    },
    async next(matches, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = received.findIndex((exchange) => matches(exchange.request));
        if (at >= 0) return received.splice(at, 1)[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no such request arrived within ${timeoutMs / 1000} s`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiting.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiting.add(wake);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
