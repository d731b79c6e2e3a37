import { Client } from 'fhir-kit-client';
import { GatewayError } from '../../errors.js';
import type { Bundle } from '../bundle.js';
import { assertSafeStructure } from '../json.js';
import type { OperationOutcome } from '../outcome.js';
import type { Resource } from '../version.js';

/**
 * Calls to another organisation's FHIR server or endpoint, made with fhir-kit-client. Whatever the interaction, every
 * request passes the client's request signer just before it leaves, and that is where the rules are kept: the
 * authorization admits the URL (the egress allowlist) and gives the headers (the bearer token; a DPoP proof, which
 * signs method and URL, belongs there too), a redirect is an error instead of being followed, and a timeout covers
 * the answer's body as well. A 401 is tried once more, after the authorization has forgotten the refused token.
 */
export interface Authorization {
  /** Throws unless a request may go to `url`. */
  admit(url: URL): void;
  /** The headers that authorize this request. */
  headers(request: { method: string; url: URL }): Promise<Record<string, string>>;
  /** The remote answered 401: the next `headers` must carry a fresh token. */
  refused(): void;
}

/** One URL of another organisation: a FHIR base, or an endpoint to post to. */
export interface RemoteEndpoint {
  /** GET `<url>/<key>`, e.g. `Task/1`. */
  read(key: string): Promise<Resource>;
  /** The batch interaction at the FHIR base `<url>`; answers the batch-response Bundle. */
  batch(bundle: Bundle): Promise<Bundle>;
  /** PUT `<url>/<type>/<id>`, with If-Match when the version it was read at is known. */
  update(resource: Resource, versionId?: string): Promise<void>;
  /** POST to `<url>` itself: a resource, JSON text sent byte for byte, or nothing (an empty POST). */
  post(body?: Resource | string): Promise<void>;
}

/** The remote answered with an error status, or with a body that is not JSON. */
export class RemoteFailure extends GatewayError {
  static override readonly code = 'ERR_REMOTE_FAILURE';

  constructor(
    readonly status: number,
    /** The answer's JSON, or its text when it was not JSON. */
    readonly body: unknown,
  ) {
    super(`answered ${status}: ${(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 500)}`);
  }

  /** The OperationOutcome the remote explained itself with, when it sent one. */
  get outcome(): OperationOutcome | undefined {
    const body = this.body as { resourceType?: unknown } | null;
    return body?.resourceType === 'OperationOutcome' ? (body as OperationOutcome) : undefined;
  }
}

/** Every call to another organisation, the token request included, gives up after this long. */
export const REQUEST_TIMEOUT_MS = 10_000;
const FHIR_JSON = 'application/fhir+json';
const ANSWER_LIMITS = { maxDepth: 64 };

export function remoteEndpoint(url: string, authorization: Authorization, options: { timeoutMs?: number } = {}): RemoteEndpoint {
  const base = url.replace(/\/$/, '');
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const client = new Client({
    baseUrl: base,
    requestSigner: async (target: string, init: RequestInit) => {
      const destination = new URL(target);
      authorization.admit(destination);
      const headers = new Headers(init.headers);
      for (const [name, value] of Object.entries(await authorization.headers({ method: init.method ?? 'GET', url: destination }))) headers.set(name, value);
      // fetch's keepalive (fhir-kit-client's default) caps a request body at 64 KiB.
      Object.assign(init, { headers, redirect: 'error', keepalive: false, signal: AbortSignal.timeout(timeoutMs) });
    },
  });

  /** The answer of `send`, checked; sent once more when the remote answers 401. */
  async function answer(send: () => Promise<unknown>): Promise<unknown> {
    const result = await send()
      .catch((error: unknown) => {
        if (httpAnswerOf(error)?.status !== 401) throw error;
        authorization.refused();
        return send();
      })
      .catch((error: unknown) => {
        const http = httpAnswerOf(error);
        throw http ? new RemoteFailure(http.status, http.data) : error;
      });
    assertSafeStructure(result, ANSWER_LIMITS);
    return result;
  }

  return {
    async read(key) {
      return (await answer(() => client.request(key))) as Resource;
    },
    async batch(bundle) {
      return (await answer(() => client.batch({ body: bundle }))) as Bundle;
    },
    async update(resource, versionId) {
      const headers: Record<string, string> = versionId ? { 'if-match': `W/"${versionId}"` } : {};
      await answer(() => client.update({ resourceType: resource.resourceType, id: resource.id, body: resource, options: { headers } }));
    },
    async post(body) {
      const headers: Record<string, string> = body === undefined ? {} : { 'content-type': FHIR_JSON };
      await answer(() => client.request(base, { method: 'POST', body, options: { headers } }));
    },
  };
}

/** fhir-kit-client throws an Error carrying `response: { status, data }` for an error status or a body that is not JSON. */
function httpAnswerOf(error: unknown): { status: number; data: unknown } | undefined {
  const response = (error as { response?: { status?: unknown; data?: unknown } } | null)?.response;
  return typeof response?.status === 'number' ? { status: response.status, data: response.data } : undefined;
}
