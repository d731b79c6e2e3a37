import { describe, expect, it } from '@jest/globals';
import type { TokenClient } from '../../src/auth/client.js';
import type { TrustRegistry } from '../../src/auth/trust.js';
import type { Bundle } from '../../src/fhir/bundle.js';
import { RemoteFailure, type RemoteEndpoint } from '../../src/fhir/client/remote.js';
import { PermanentFailure } from '../../src/outbox/dispatcher.js';
import { createPeer } from '../../src/transfer/peer.js';

/** The receiver's calls to the sender, against a fake sender's FHIR endpoint. */
const registry = { trusted: () => ({ endpoints: { fhir: 'https://sender.example/fhir/stu3' } }) } as unknown as TrustRegistry;
const senderAnswering = (endpoint: Partial<RemoteEndpoint>) => ({ remote: () => endpoint }) as unknown as TokenClient;

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

  it('leaves a failure that may pass to the outbox to try again', async () => {
    const client = senderAnswering({ read: () => Promise.reject(new RemoteFailure(503, 'busy')) });
    const failure = await createPeer(client, registry).read({ tenant: 'vvt', peer: 'hospital' }, 'Task/t1').catch((error: unknown) => error);
    expect(failure).not.toBeInstanceOf(PermanentFailure);
    expect((failure as Error).message).toBe('GET Task/t1 answered 503: busy');
  });
});
