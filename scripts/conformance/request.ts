import { toXml } from '../../src/fhir/xml.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import type { ReceivedResponse, RunContext, SentRequest } from './context.js';
import { TestScriptInvalid } from './errors.js';
import type { Operation } from './model.js';
import { parseResourceText } from './script-file.js';
import type { Variables } from './variables.js';

export type WireFormat = 'json' | 'xml';

/** STU3 names formats by code, R4 by MIME type; both are sent as the MIME type. */
const MIME_TYPES: Record<string, string> = { json: 'application/fhir+json', xml: 'application/fhir+xml', ttl: 'text/turtle' };

export function mimeType(format: string): string {
  return MIME_TYPES[format] ?? format;
}

const METHODS: Record<string, string> = {
  read: 'GET',
  vread: 'GET',
  search: 'GET',
  'search-type': 'GET',
  'search-system': 'GET',
  history: 'GET',
  'history-instance': 'GET',
  'history-type': 'GET',
  capabilities: 'GET',
  create: 'POST',
  update: 'PUT',
  updateCreate: 'PUT',
  delete: 'DELETE',
  deleteCondMultiple: 'DELETE',
  patch: 'PATCH',
  transaction: 'POST',
  batch: 'POST',
};

/** Interactions on a single resource: without params, the URL ends in the id of the target (or, for update, the body). */
const ON_INSTANCE = new Set(['read', 'vread', 'update', 'updateCreate', 'delete', 'history', 'history-instance', 'patch']);

export interface RequestOptions {
  server: string;
  format: WireFormat;
  /** Sent as `Authorization` in place of what the script names, unless the script's own is kept. */
  authorization?: () => Promise<string | undefined>;
}

/** The HTTP request an operation describes, with every `${variable}` filled in. */
export async function buildRequest(operation: Operation, context: RunContext, variables: Variables, options: RequestOptions): Promise<SentRequest> {
  const code = operation.type?.code;
  const method = (operation.method ?? (code ? METHODS[code] : undefined) ?? 'POST').toUpperCase();
  const source = operation.sourceId ? requireResource(context, operation.sourceId) : undefined;
  const url = requestUrl(operation, context, variables, options.server, source);
  const headers: Record<string, string> = { accept: mimeType(operation.accept ?? options.format) };
  const credential = await options.authorization?.();
  // The script's Authorization is not filled in when it is replaced: its variable may have no value (the tester's token).
  for (const header of operation.requestHeader ?? []) {
    const field = header.field.toLowerCase();
    if (!(credential && field === 'authorization')) headers[field] = variables.substitute(header.value);
  }
  if (credential) headers.authorization = credential;
  if (!source) return { method, url, headers };
  const format = operation.contentType ?? options.format;
  headers['content-type'] = mimeType(format);
  return { method, url, headers, resource: source, body: serialize(source, format, context.version, variables) };
}

function requireResource(context: RunContext, id: string): Resource {
  const resource = context.resource(id);
  if (!resource) throw new TestScriptInvalid(`${id} names no fixture and no response received so far`);
  return resource;
}

function serialize(resource: Resource, format: string, version: FhirVersion, variables: Variables): string {
  const text = format === 'xml' || format.endsWith('xml') ? toXml(version, resource) : JSON.stringify(resource);
  return variables.substituteDeclared(text);
}

function requestUrl(operation: Operation, context: RunContext, variables: Variables, server: string, source?: Resource): string {
  const base = server.replace(/\/$/, '');
  if (operation.url) {
    const url = variables.substitute(operation.url);
    return /^https?:\/\//.test(url) ? url : `${base}/${url.replace(/^\//, '')}`;
  }
  const code = operation.type?.code ?? '';
  const target = operation.targetId ? requireResource(context, operation.targetId) : undefined;
  const type = operation.resource ?? target?.resourceType ?? (code === 'update' ? source?.resourceType : undefined);
  const params = operation.params ? variables.substitute(operation.params) : undefined;
  if (code === 'capabilities') return `${base}/metadata`;
  if (code === 'transaction' || code === 'batch') return base;
  const typePath = type && type !== 'Resource' ? `/${type}` : '';
  if (params !== undefined) return `${base}${typePath}${/^[/?]/.test(params) ? params : `/${params}`}`;
  if (ON_INSTANCE.has(code)) return `${base}${typePath}/${instancePath(code, target ?? source, operation)}`;
  if (!METHODS[code] && code) return `${base}${typePath}/$${code}`;
  return `${base}${typePath}`;
}

function instancePath(code: string, resource: Resource | undefined, operation: Operation): string {
  if (!resource?.id) throw new TestScriptInvalid(`${code} needs params or a targetId whose resource has an id (${operation.label ?? operation.description ?? 'operation'})`);
  if (code === 'vread') return `${resource.id}/_history/${resource.meta?.versionId ?? ''}`;
  if (code === 'history' || code === 'history-instance') return `${resource.id}/_history`;
  return resource.id;
}

/** Sends the request and reads the answer; a body that is a FHIR resource (JSON or XML) is parsed with the script's release. */
export async function send(request: SentRequest, version: FhirVersion): Promise<ReceivedResponse> {
  const answer = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, redirect: 'manual' });
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => (headers[name] = value));
  const body = await answer.text();
  const response: ReceivedResponse = { status: answer.status, headers, body };
  if (body.trim() === '') return response;
  try {
    response.resource = parseResourceText(body, version, `the response of ${request.method} ${request.url}`);
  } catch (error) {
    response.parseError = (error as Error).message;
  }
  return response;
}
