import { REFUSAL_REASONS } from '../auth/canonical.js';
import { TokenRequestError, type TokenClient } from '../auth/client.js';
import type { TrustRegistry } from '../auth/trust.js';
import { GatewayError } from '../errors.js';
import type { Bundle } from '../fhir/bundle.js';
import { parseJson } from '../fhir/json.js';
import type { Resource } from '../fhir/version.js';
import { PermanentFailure } from '../outbox/dispatcher.js';
import { PURPOSE } from './credentials.js';

/**
 * The calls one gateway makes to the other side of a transfer, through the auth client (a token per call purpose
 * and credential, cached; TLS and the configured endpoints only). The sender's eOverdracht FHIR base is its trusted
 * `endpoints.fhir` (the STU3 base, e.g. `https://hospital.example/fhir/stu3`); the receiver's notification endpoint
 * is its `endpoints.notification`, to which the Task id is appended.
 */
export interface PeerCall {
  /** The hosted organisation making the call. */
  tenant: string;
  /** The trusted organisation called. */
  peer: string;
  /** The authorization credential (JWT) the call rests on. */
  credential?: string;
}

/**
 * The sender revoked the credential: the transfer ended (cancelled, or the receiver's own rejection or completion).
 * Known only from the refusal reason `credential-revoked`; a refusal without it (a gateway of another vendor sends
 * none) stays an ordinary failure, retried and in the end dead-lettered, never taken for the end of a transfer.
 */
export class AccessWithdrawn extends GatewayError {
  static override readonly code = 'ERR_ACCESS_WITHDRAWN';
}

export interface Peer {
  read(call: PeerCall, key: string): Promise<Resource>;
  /** Reads several resources in one batch; every one must be there. */
  readAll(call: PeerCall, keys: string[]): Promise<Resource[]>;
  /** PUT with If-Match; a refusal by the state machine (409/422) or by the guard (403) is permanent. */
  update(call: PeerCall, resource: Resource, versionId: string | undefined): Promise<void>;
  /** The notified-pull notification: POST `<notification endpoint>/<taskId>`. */
  notify(call: PeerCall, taskId: string, body: Resource): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json';
const LIMITS = { maxDepth: 64 };
/** Reads per batch: a document level with many references goes in several, each well inside a sender's entry limit. */
const BATCH_READS = 100;

export function createPeer(client: TokenClient, registry: TrustRegistry): Peer {
  function endpoint(peer: string, kind: 'fhir' | 'notification'): string {
    const url = registry.trusted(peer)?.endpoints[kind];
    if (!url) throw new PermanentFailure(`trusted organisation '${peer}' has no ${kind} endpoint configured`);
    return url.replace(/\/$/, '');
  }

  async function readBatch(call: PeerCall, keys: string[]): Promise<Resource[]> {
    const batch: Bundle = { resourceType: 'Bundle', type: 'batch', entry: keys.map((url) => ({ request: { method: 'GET', url } })) };
    const response = await fhir(call, 'POST', '', batch);
    if (!response.ok) throw await failure(response, 'batch read', []);
    const entries = ((await resourceOf(response)) as Bundle).entry ?? [];
    return keys.map((key, index) => {
      const entry = entries[index];
      if (!entry?.response?.status.startsWith('200') || !entry.resource) throw new Error(`GET ${key} in a batch answered ${entry?.response?.status ?? 'nothing'}`);
      return entry.resource;
    });
  }

  async function send(call: PeerCall, purposeOfUse: string, url: string, init: RequestInit): Promise<Response> {
    try {
      return await client.authorizedFetch(url, init, {
        requester: call.tenant,
        remote: call.peer,
        purposeOfUse,
        vcs: call.credential ? [call.credential] : [],
      });
    } catch (error) {
      if (error instanceof TokenRequestError && error.reason === REFUSAL_REASONS.credentialRevoked) throw new AccessWithdrawn(error.message, { cause: error });
      throw error;
    }
  }

  async function fhir(call: PeerCall, method: string, path: string, body?: Resource, headers: Record<string, string> = {}): Promise<Response> {
    const url = path === '' ? endpoint(call.peer, 'fhir') : `${endpoint(call.peer, 'fhir')}/${path}`;
    return send(call, PURPOSE.pull, url, {
      method,
      headers: { accept: FHIR_JSON, ...(body ? { 'content-type': FHIR_JSON } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  }

  return {
    async read(call, key) {
      const response = await fhir(call, 'GET', key);
      if (response.ok) return resourceOf(response);
      throw await failure(response, `GET ${key}`, [404, 410]);
    },

    async readAll(call, keys) {
      const resources: Resource[] = [];
      for (let start = 0; start < keys.length; start += BATCH_READS) resources.push(...(await readBatch(call, keys.slice(start, start + BATCH_READS))));
      return resources;
    },

    async update(call, resource, versionId) {
      const headers: Record<string, string> = versionId ? { 'if-match': `W/"${versionId}"` } : {};
      const response = await fhir(call, 'PUT', `${resource.resourceType}/${resource.id}`, resource, headers);
      if (!response.ok) throw await failure(response, `PUT ${resource.resourceType}/${resource.id}`, [400, 403, 404, 409, 422]);
      await response.body?.cancel();
    },

    async notify(call, taskId, body) {
      const url = `${endpoint(call.peer, 'notification')}/${taskId}`;
      const response = await send(call, PURPOSE.notify, url, { method: 'POST', headers: { 'content-type': FHIR_JSON }, body: JSON.stringify(body) });
      if (!response.ok) throw await failure(response, `notification of Task/${taskId}`, [400, 403, 404]);
      await response.body?.cancel();
    },
  };
}

async function resourceOf(response: Response): Promise<Resource> {
  return parseJson(await response.text(), LIMITS) as Resource;
}

/** What went wrong, as the error the outbox acts on: listed statuses will not get better by retrying. */
async function failure(response: Response, what: string, permanent: number[]): Promise<Error> {
  const text = (await response.text().catch(() => '')).slice(0, 500);
  const message = `${what} answered ${response.status}: ${text}`;
  return permanent.includes(response.status) ? new PermanentFailure(message) : new Error(message);
}
