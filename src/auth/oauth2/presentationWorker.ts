/**
 * Runs in a worker thread (presentationVerifier.ts): checks presentation grants with the trust material handed over
 * at start, and the holder's key the main thread resolved for each (its did:web documents are fetched and cached
 * there). Signatures are checked here directly, not on libuv's pool: this thread is the one that may wait.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { OAuthError } from '../errors.js';
import { trustedCa } from '../credentials/certificates.js';
import { verifyPresentationGrant } from './presentationGrant.js';
import type { PresentationReply, PresentationRequest, PresentationWorkerData } from './presentationVerifier.js';

const { policies, anchorPems, allowSelfSigned, dezi } = workerData as PresentationWorkerData;
const anchors = anchorPems.map(trustedCa);
const options = { policies, x509: { anchors: new Map(anchors.map((anchor) => [anchor.fingerprint, anchor])), allowSelfSigned }, ...(dezi ? { dezi } : {}) };

async function answer({ id, params, grantType, issuer, now, holder }: PresentationRequest): Promise<PresentationReply> {
  const key = async (did: string, fragment: string) => (did === holder.did && fragment === holder.fragment ? holder.key : undefined);
  try {
    return { id, grant: await verifyPresentationGrant(params, grantType, { ...options, key, issuer, now }) };
  } catch (error) {
    if (error instanceof OAuthError) return { id, refusal: { error: error.error, description: error.description, status: error.status } };
    return { id, failure: (error as Error).message };
  }
}

const port = parentPort as MessagePort;
port.on('message', (request: PresentationRequest) => {
  void answer(request).then((reply) => port.postMessage(reply));
});
