import { REFUSAL_REASON_SYSTEM, REFUSAL_REASONS } from '../vocabulary/canonical.js';
import { TokenRequestError, type TokenClient } from '../auth/client.js';
import { SealedDeziRefused } from '../auth/credentials/sealedDezi.js';
import type { TrustRegistry } from '../auth/trust.js';
import { GatewayError } from '../errors.js';
import type { Bundle } from '../fhir/bundle.js';
import { RemoteFailure, type RemoteEndpoint } from '../fhir/client/remote.js';
import type { Person } from '../fhir/principal.js';
import type { Resource } from '../fhir/version.js';
import { PermanentFailure } from '../outbox/dispatcher.js';
import { PURPOSE } from './purposes.js';

/**
 * The calls one gateway makes to the other side of a transfer, through the auth client (a token per call purpose
 * and resource, cached; TLS and the configured endpoints only). The sender's eOverdracht FHIR base is its trusted
 * `endpoints.fhir` (the STU3 base, e.g. `https://hospital.example/fhir/stu3`); the receiver is notified at its
 * `endpoints.notification` in the shape it speaks (`notificationShape`).
 */
export interface PeerCall {
  /** The hosted organisation making the call. */
  tenant: string;
  /** The trusted organisation called. */
  peer: string;
  /**
   * The sender's resource the call is about (`Task/{id}`): the token is asked for it (RFC 8707 `resource`); the
   * sender judges the pull by the Consents it recorded for that transfer (docs/transfer.md, Access).
   */
  about?: string;
  /** The person behind the call, as the tenant's EHR named them: the token request carries them. */
  person?: Person;
}

/**
 * The sender withdrew access: the transfer ended (cancelled, or the receiver's own rejection or completion).
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
  /**
   * The Bolt notification: an empty POST to `<notification endpoint>/<taskId>`, answered 202. `endpoint` (the one of
   * the HealthcareService the Task is routed to) replaces the configured one, and must lie under the receiver's endpoints.
   */
  notifyBolt(call: PeerCall, taskId: string, endpoint?: string): Promise<void>;
  /** The Twiin notification: the notification Task POSTed to `<notification endpoint>/Task`, answered 201; `endpoint` as for Bolt. */
  notifyTwiin(call: PeerCall, notification: Resource, endpoint?: string): Promise<void>;
}

/** Reads per batch: a document level with many references goes in several, each well inside a sender's entry limit. */
const BATCH_READS = 100;
/** A receiver that refuses a notification (its shape, the token, the Task) refuses it again when asked again. */
const NOTIFICATION_REFUSALS = [400, 403, 404, 422];

export function createPeer(client: Pick<TokenClient, 'remote'>, registry: TrustRegistry): Peer {
  function endpoint(peer: string, kind: 'fhir' | 'notification'): string {
    const url = registry.trusted(peer)?.endpoints[kind];
    if (!url) throw new PermanentFailure(`trusted organisation '${peer}' has no ${kind} endpoint configured`);
    return url.replace(/\/$/, '');
  }

  /** Where notifications to the peer go: the routed endpoint of the Task's HealthcareService, else the configured one. */
  function notificationBase(call: PeerCall, routed: string | undefined): string {
    return routed?.replace(/\/$/, '') ?? endpoint(call.peer, 'notification');
  }

  async function readBatch(call: PeerCall, keys: string[]): Promise<Resource[]> {
    const batch: Bundle = { resourceType: 'Bundle', type: 'batch', entry: keys.map((url) => ({ request: { method: 'GET', url } })) };
    const entries = (await fhir(call, (sender) => sender.batch(batch)).catch(failure('batch read', []))).entry ?? [];
    return keys.map((key, index) => {
      const entry = entries[index];
      if (!entry?.response?.status.startsWith('200') || !entry.resource) throw new Error(`GET ${key} in a batch answered ${entry?.response?.status ?? 'nothing'}`);
      return entry.resource;
    });
  }

  async function send<T>(call: PeerCall, purposeOfUse: string, url: string, exchange: (remote: RemoteEndpoint) => Promise<T>): Promise<T> {
    try {
      return await exchange(
        client.remote(url, {
          requester: call.tenant,
          remote: call.peer,
          purposeOfUse,
          ...(call.about ? { resource: `${endpoint(call.peer, 'fhir')}/${call.about}` } : {}),
          ...(call.person ? { person: call.person } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof TokenRequestError && error.reason === REFUSAL_REASONS.credentialRevoked) throw new AccessWithdrawn(error.message, { cause: error });
      // Asking again opens it no better: the EHR names the person again ($pull, or an update of the Task) to go on.
      if (error instanceof SealedDeziRefused) throw new PermanentFailure(`${error.message}; the EHR names the person again to go on`, { cause: error });
      throw error;
    }
  }

  async function fhir<T>(call: PeerCall, exchange: (sender: RemoteEndpoint) => Promise<T>): Promise<T> {
    return send(call, PURPOSE.pull, endpoint(call.peer, 'fhir'), exchange);
  }

  return {
    // 401 comes here only after a fresh token was refused too (fhir/client/remote.ts): neither gets better by retrying.
    async read(call, key) {
      return fhir(call, (sender) => sender.read(key)).catch(failure(`GET ${key}`, [401, 403, 404, 410]));
    },

    async readAll(call, keys) {
      const resources: Resource[] = [];
      for (let start = 0; start < keys.length; start += BATCH_READS) resources.push(...(await readBatch(call, keys.slice(start, start + BATCH_READS))));
      return resources;
    },

    async update(call, resource, versionId) {
      const what = `PUT ${resource.resourceType}/${resource.id}`;
      await fhir(call, (sender) => sender.update(resource, versionId)).catch(failure(what, [400, 403, 404, 409, 422]));
    },

    async notifyBolt(call, taskId, routed) {
      const url = `${notificationBase(call, routed)}/${taskId}`;
      await send(call, PURPOSE.notify, url, (receiver) => receiver.post()).catch(failure(`notification of Task/${taskId}`, NOTIFICATION_REFUSALS));
    },

    async notifyTwiin(call, notification, routed) {
      const url = `${notificationBase(call, routed)}/Task`;
      const what = `notification Task of ${JSON.stringify(notification.basedOn)}`;
      await send(call, PURPOSE.notify, url, (receiver) => receiver.post(notification)).catch(failure(what, NOTIFICATION_REFUSALS));
    },
  };
}

/**
 * What went wrong, as the error the outbox acts on: listed statuses will not get better by retrying. The other
 * gateway's answer (its OperationOutcome) stays at hand as the `cause`.
 */
function failure(what: string, permanent: number[]): (error: unknown) => never {
  return (error) => {
    if (!(error instanceof RemoteFailure)) throw error;
    const message = `${what} ${error.message}`;
    throw permanent.includes(error.status) ? new PermanentFailure(message, { cause: error }) : new Error(message, { cause: error });
  };
}

/** The other side's answer behind a failed call, when it answered with an error status. */
export function remoteAnswerOf(error: unknown): RemoteFailure | undefined {
  return error instanceof Error && error.cause instanceof RemoteFailure ? error.cause : undefined;
}

/**
 * A refusal that a person in the token would lift: a 403 with the refusal reason `user-identity-required` (a gateway
 * like this one), or a 403 with no refusal reason of ours at all (another vendor's sender says no more). A 403 with
 * another reason of ours is something else.
 */
export function refusedForLackOfPerson(error: unknown): boolean {
  const answer = remoteAnswerOf(error);
  if (answer?.status !== 403) return false;
  const reasons = (answer.outcome?.issue ?? []).flatMap((issue) => issue.details?.coding ?? []).filter((coding) => coding.system === REFUSAL_REASON_SYSTEM);
  return reasons.length === 0 || reasons.some((coding) => coding.code === REFUSAL_REASONS.userIdentityRequired);
}
