import { describe, expect, it } from '@jest/globals';
import { REFUSAL_REASONS } from '../../src/vocabulary/canonical.js';
import { TokenRequestError, type TokenClient } from '../../src/auth/client.js';
import type { TrustRegistry } from '../../src/auth/trust.js';
import type { Bundle } from '../../src/fhir/bundle.js';
import { RemoteFailure, type RemoteEndpoint } from '../../src/fhir/client/remote.js';
import { PermanentFailure } from '../../src/outbox/dispatcher.js';
import { AccessWithdrawn, createPeer } from '../../src/transfer/peer.js';

const registry = { trusted: () => ({ endpoints: { fhir: 'https://sender.example/fhir/stu3' } }) } as unknown as TrustRegistry;
const call = { tenant: 'vvt', peer: 'hospital', about: 'Task/1' };
const senderAnswering = (endpoint: Partial<RemoteEndpoint>) => ({ remote: () => endpoint }) as unknown as TokenClient;

/** A sender whose authorization server refuses every grant with `refusal`. */
const refusingSender = (refusal: TokenRequestError) => createPeer({ remote: () => ({ read: () => Promise.reject(refusal) }) } as unknown as TokenClient, registry);

/** The receiver's calls at the sender, against fake senders: batch reads, failures, and how a refusal of access is told apart. */
describe('peer', () => {
  it('reads a document level of many references in batches well inside a sender entry limit, in order', async () => {
    const batchSizes: number[] = [];
    const client = senderAnswering({
      async batch(batch: Bundle) {
        batchSizes.push(batch.entry?.length ?? 0);
        const entry = (batch.entry ?? []).map(({ request }) => {
          const [resourceType, id] = String(request?.url).split('/');
          return { response: { status: '200 OK' }, resource: { resourceType, id } };
        });
        return { resourceType: 'Bundle', type: 'batch-response', entry };
      },
    });
    const keys = Array.from({ length: 250 }, (_, at) => `Observation/o${at}`);
    const resources = await createPeer(client, registry).readAll({ tenant: 'vvt', peer: 'hospital' }, keys);
    expect(batchSizes).toEqual([100, 100, 50]);
    expect(resources.map((resource) => `${resource.resourceType}/${resource.id}`)).toEqual(keys);
  });

  it("knows the transfer is over from the refusal reason credential-revoked, whatever the text says", async () => {
    const revoked = new TokenRequestError(400, 'invalid_grant', "token request to 'hospital' refused: access ended", REFUSAL_REASONS.credentialRevoked);
    const read = refusingSender(revoked).read(call, 'Task/1');
    await expect(read).rejects.toBeInstanceOf(AccessWithdrawn);
    await expect(read).rejects.toMatchObject({ code: 'ERR_ACCESS_WITHDRAWN', cause: revoked });
  });

  it('takes a refusal without that reason (a gateway of another vendor) for an ordinary failure, even when its text says revoked', async () => {
    const unknown = new TokenRequestError(400, 'invalid_grant', "token request to 'hospital' refused: credential revoked or unknown");
    await expect(refusingSender(unknown).read(call, 'Task/1')).rejects.toBe(unknown);
    const otherReason = new TokenRequestError(400, 'invalid_grant', "token request to 'hospital' refused: revoked", 'revoked');
    await expect(refusingSender(otherReason).read(call, 'Task/1')).rejects.toBe(otherReason);
  });

  it("gives a refusal by the sender's state machine to the outbox as permanent, its OperationOutcome at hand", async () => {
    const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict', details: { text: 'not allowed from completed' } }] };
    const client = senderAnswering({ update: () => Promise.reject(new RemoteFailure(409, outcome)) });
    const failure = await createPeer(client, registry)
      .update({ tenant: 'vvt', peer: 'hospital' }, { resourceType: 'Task', id: 't1' }, '2')
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermanentFailure);
    expect((failure as Error).message).toBe(`PUT Task/t1 answered 409: ${JSON.stringify(outcome)}`);
    expect(((failure as Error).cause as RemoteFailure).outcome).toEqual(outcome);
  });

  it('gives a refusal of the Task (403, or 401 after the fresh token) to the outbox as final: the pull does not loop', async () => {
    for (const status of [401, 403]) {
      const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', details: { text: 'read /Task/t1 is not granted' } }] };
      const client = senderAnswering({ read: () => Promise.reject(new RemoteFailure(status, outcome)) });
      const failure = await createPeer(client, registry).read(call, 'Task/t1').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PermanentFailure);
      expect((failure as Error).message).toBe(`GET Task/t1 answered ${status}: ${JSON.stringify(outcome)}`);
    }
  });

  it('asks its token for the Task the call is about (RFC 8707 resource), and for nothing when the call names none', async () => {
    const asked: (string | undefined)[] = [];
    const client = { remote: (_url: string, outbound: { resource?: string }) => (asked.push(outbound.resource), { read: async () => ({ resourceType: 'Task', id: '1' }) }) };
    const peer = createPeer(client as unknown as TokenClient, registry);
    await peer.read(call, 'Task/1');
    await peer.read({ tenant: 'vvt', peer: 'hospital' }, 'Task/1');
    expect(asked).toEqual(['https://sender.example/fhir/stu3/Task/1', undefined]);
  });

  it('leaves a failure that may pass to the outbox to try again', async () => {
    const client = senderAnswering({ read: () => Promise.reject(new RemoteFailure(503, 'busy')) });
    const failure = await createPeer(client, registry).read({ tenant: 'vvt', peer: 'hospital' }, 'Task/t1').catch((error: unknown) => error);
    expect(failure).not.toBeInstanceOf(PermanentFailure);
    expect((failure as Error).message).toBe('GET Task/t1 answered 503: busy');
  });
});
