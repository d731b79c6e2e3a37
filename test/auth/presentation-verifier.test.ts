import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { importVerificationKey, type VerificationKey } from '../../src/auth/jwk.js';
import type { DidKeyResolver } from '../../src/auth/credentials/presentation.js';
import { loadNutsCredentials } from '../../src/auth/credentials/organizationCredentials.js';
import { OAuthError } from '../../src/auth/errors.js';
import { loadPolicies } from '../../src/auth/oauth2/policy.js';
import { verifyPresentationGrant } from '../../src/auth/oauth2/presentationGrant.js';
import { createPresentationVerifier, type PresentationVerifier } from '../../src/auth/oauth2/presentationVerifier.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { employeeCredential, ISSUER, nutsWorld, presentation, submission, type NutsWorld } from './nuts-support.js';

/**
 * The worker threads that check presentation grants (auth/oauth2/presentationVerifier.ts): the same answers as the
 * checks run in one thread, the holder's key found on the main thread, and a thread that ends failing only what it held.
 */
let folder: string;
let world: NutsWorld;
let holderKey: VerificationKey;
let options: Parameters<typeof createPresentationVerifier>[0];
let verifier: PresentationVerifier;

const now = () => Math.floor(Date.now() / 1000);
const grant = (assertion: string, extra: Record<string, unknown> = {}) => ({ assertion, presentation_submission: submission(), scope: 'eOverdracht-sender', ...extra });

beforeAll(async () => {
  folder = temporaryFolder('presentation-verifier-');
  world = await nutsWorld(folder);
  const nuts = await loadNutsCredentials(world.config, [], now());
  options = { policies: loadPolicies(), x509: nuts.x509, ...(nuts.dezi ? { dezi: nuts.dezi } : {}) };
  holderKey = await importVerificationKey(world.hospital.signing.publicJwk);
  verifier = createPresentationVerifier(options, 2);
});
afterAll(async () => {
  await verifier.close();
  removeFolder(folder);
});

/** The answer of the checks run in this thread, as the worker's is compared with it. */
async function inThread(params: Record<string, unknown>, at: number): Promise<unknown> {
  try {
    return await verifyPresentationGrant(params, 'vp_token-bearer', { ...options, key: async () => holderKey, issuer: ISSUER, now: at });
  } catch (error) {
    return error;
  }
}

async function inWorker(params: Record<string, unknown>, key: DidKeyResolver = async () => holderKey, at = now()): Promise<unknown> {
  try {
    return await verifier.verify(params, 'vp_token-bearer', { key, issuer: ISSUER, now: at });
  } catch (error) {
    return error;
  }
}

describe('checking presentation grants in worker threads', () => {
  it('grants what the checks in one thread grant, person and claims included', async () => {
    const params = grant(await presentation(world.hospital, { credentials: [world.hospital.x509Credential, employeeCredential(world.hospital)] }));
    const at = now();
    const answer = await inWorker(params, undefined, at);
    expect(answer).toEqual(await inThread(params, at));
    expect(answer).toMatchObject({ organization: { ura: '12345678' }, person: { person: { identifier: 'nurse-42@hospital' } } });
  });

  it.each([
    ['a presentation for another audience', { claims: { aud: 'https://elsewhere.test/oauth2/x' } }],
    ['a presentation valid too long', { claims: { exp: now() + 60 } }],
    ['a presentation signed by another holder than its credential subject', { claims: { iss: 'did:web:other.test:iam:1', sub: 'did:web:other.test:iam:1' } }],
  ])('refuses %s with the same OAuth error as one thread', async (_case, overrides) => {
    const params = grant(await presentation(world.hospital, overrides));
    const at = now();
    const answer = await inWorker(params, undefined, at);
    expect(answer).toBeInstanceOf(OAuthError);
    expect((answer as OAuthError).body).toEqual(((await inThread(params, at)) as OAuthError).body);
    expect(answer).toMatchObject({ status: 400 });
  });

  it('refuses a bad request or an unreadable header on the main thread, before any key is looked up', async () => {
    const key = jest.fn<DidKeyResolver>(async () => holderKey);
    expect(await inWorker({ scope: 'eOverdracht-sender', presentation_submission: submission() }, key)).toMatchObject({ error: 'invalid_request', description: 'assertion is required' });
    expect(await inWorker(grant('not-a-jws'), key)).toMatchObject({ error: 'invalid_request', description: 'not a compact JWS' });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: `${world.hospital.did}#1` })).toString('base64url')}.e30.`;
    expect(await inWorker(grant(unsigned), key)).toMatchObject({ error: 'invalid_request', description: "alg 'none' is not allowed" });
    expect(key).not.toHaveBeenCalled();
  });

  it("looks the holder's key up on the main thread, by the DID URL its header names", async () => {
    const key = jest.fn<DidKeyResolver>(async () => holderKey);
    await inWorker(grant(await presentation(world.hospital)), key);
    const fragment = world.hospital.signing.kid.slice(world.hospital.signing.kid.lastIndexOf('#') + 1);
    expect(key).toHaveBeenCalledWith(world.hospital.did, fragment);
    expect(await inWorker(grant(await presentation(world.hospital)), async () => undefined)).toMatchObject({ error: 'invalid_request', description: expect.stringContaining('unknown key') });
  });

  it('fails what its threads held with temporarily_unavailable (503) when closed, and starts a new thread for the next request', async () => {
    const post = Worker.prototype.postMessage;
    // Closed the moment the request has gone to a thread, before any answer can come back.
    const closing = jest.spyOn(Worker.prototype, 'postMessage').mockImplementationOnce(function (this: Worker, message: unknown) {
      post.call(this, message);
      void verifier.close();
    });
    try {
      expect(await inWorker(grant(await presentation(world.hospital)))).toMatchObject({ error: 'temporarily_unavailable', status: 503 });
    } finally {
      closing.mockRestore();
    }
    expect(await inWorker(grant(await presentation(world.hospital)))).toMatchObject({ organization: { ura: '12345678' } });
  });
});
