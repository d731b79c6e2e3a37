import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { moduleWorker, workerScript } from '../../threads/moduleWorker.js';
import { holderKeyId, type DidKeyResolver } from '../credentials/presentation.js';
import type { DeziTrust } from '../credentials/person.js';
import { invalidRequest, OAuthError, type OAuthErrorCode } from '../errors.js';
import type { VerificationKey } from '../jwk.js';
import { parseJwsHeader, signableHeader, TokenError } from '../jws.js';
import type { Policies } from './policy.js';
import { grantParameters, type PresentationGrantOptions, type PresentationGrantType, type VerifiedPresentationGrant } from './presentationGrant.js';

/**
 * Presentation grants are checked in worker threads, off the event loop that serves FHIR requests: per token
 * request three signatures (the presentation, its X509Credential, the certificate chain), parsing the presentation
 * and its credentials, and the did:x509 and Presentation Exchange checks. The main thread checks the request's
 * parameters and finds the holder's key (its did:web document, fetched and cached here); the worker does the rest
 * (presentationGrant.ts, unchanged: the checks and their order are the same as in one thread).
 */
export interface PresentationVerifier {
  verify(params: Record<string, unknown>, grantType: PresentationGrantType, context: { issuer: string; now: number; key: DidKeyResolver }): Promise<VerifiedPresentationGrant>;
  /** Ends the worker threads; a later `verify` starts them again. */
  close(): Promise<void>;
}

export interface PresentationWorkerData {
  policies: Policies;
  anchorPems: string[];
  allowSelfSigned: boolean;
  dezi?: DeziTrust;
}

export interface PresentationRequest {
  id: number;
  params: Record<string, unknown>;
  grantType: PresentationGrantType;
  issuer: string;
  now: number;
  holder: { did: string; fragment: string; key: VerificationKey | undefined };
}

export type PresentationReply =
  | { id: number; grant: VerifiedPresentationGrant }
  | { id: number; refusal: { error: OAuthErrorCode; description: string; status: number } }
  | { id: number; failure: string };

interface Pending {
  resolve: (grant: VerifiedPresentationGrant) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

const WORKER_SCRIPT = workerScript('./presentationWorker.js', import.meta.url);
/** The request parameters a presentation grant reads; nothing else crosses to the worker. */
const GRANT_PARAMETERS = ['scope', 'assertion', 'presentation_submission', 'client_id'] as const;

/** One thread fewer than the cores, so the event loop keeps one; at least one, at most four. */
export const defaultThreadCount = () => Math.max(1, Math.min(4, availableParallelism() - 1));

const unavailable = () => new OAuthError('temporarily_unavailable', 'the presentation could not be checked now; try again', { status: 503 });

/** The holder's key the presentation's header names, found before the presentation goes to a worker. */
async function holderOf(assertion: unknown, resolve: DidKeyResolver): Promise<PresentationRequest['holder']> {
  try {
    const { did, fragment } = holderKeyId(signableHeader(parseJwsHeader(assertion)));
    return { did, fragment, key: await resolve(did, fragment) };
  } catch (error) {
    if (error instanceof TokenError) throw invalidRequest(error.message);
    throw error;
  }
}

function settle(thread: Thread, reply: PresentationReply): void {
  const pending = thread.pending.get(reply.id);
  if (!pending) return;
  thread.pending.delete(reply.id);
  if (thread.pending.size === 0) thread.worker.unref();
  if ('grant' in reply) pending.resolve(reply.grant);
  else if ('refusal' in reply) pending.reject(new OAuthError(reply.refusal.error, reply.refusal.description, { status: reply.refusal.status }));
  else pending.reject(new Error(`presentation check failed: ${reply.failure}`));
}

export function createPresentationVerifier(
  options: Omit<PresentationGrantOptions, 'key'>,
  threadCount = defaultThreadCount(),
): PresentationVerifier {
  const data: PresentationWorkerData = {
    policies: options.policies,
    anchorPems: [...options.x509.anchors.values()].map((anchor) => anchor.certificate.toString()),
    allowSelfSigned: options.x509.allowSelfSigned,
    ...(options.dezi ? { dezi: options.dezi } : {}),
  };
  const threads: Thread[] = [];
  let nextId = 0;

  /** A thread that ended (a crash, or one that could not load) fails what it held and leaves the pool. */
  function retire(thread: Thread): void {
    const at = threads.indexOf(thread);
    if (at >= 0) threads.splice(at, 1);
    for (const pending of thread.pending.values()) pending.reject(unavailable());
    thread.pending.clear();
  }

  function startThread(): Thread {
    const thread: Thread = { worker: moduleWorker(WORKER_SCRIPT, { ...data }), pending: new Map() };
    thread.worker.unref();
    thread.worker.on('message', (reply: PresentationReply) => settle(thread, reply));
    thread.worker.on('error', () => retire(thread));
    thread.worker.on('exit', () => retire(thread));
    threads.push(thread);
    return thread;
  }

  /** The thread with the least work; a new one while the pool is not full. */
  function leastBusy(): Thread {
    if (threads.length < threadCount) return startThread();
    return threads.reduce((best, thread) => (thread.pending.size < best.pending.size ? thread : best));
  }

  return {
    async verify(params, grantType, { issuer, now, key }) {
      grantParameters(params, grantType, options.policies);
      const holder = await holderOf(params.assertion, key);
      const request: PresentationRequest = {
        id: nextId++,
        params: Object.fromEntries(GRANT_PARAMETERS.filter((name) => params[name] !== undefined).map((name) => [name, params[name]])),
        grantType,
        issuer,
        now,
        holder,
      };
      const thread = leastBusy();
      return new Promise<VerifiedPresentationGrant>((resolve, reject) => {
        thread.pending.set(request.id, { resolve, reject });
        thread.worker.ref();
        thread.worker.postMessage(request);
      });
    },
    async close() {
      const ending = [...threads];
      ending.forEach(retire);
      await Promise.all(ending.map((thread) => thread.worker.terminate()));
    },
  };
}
