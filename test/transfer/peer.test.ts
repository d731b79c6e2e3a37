import { describe, expect, it } from '@jest/globals';
import type { TokenClient } from '../../src/auth/client.js';
import type { TrustRegistry } from '../../src/auth/trust.js';
import type { Bundle } from '../../src/fhir/bundle.js';
import { createPeer } from '../../src/transfer/peer.js';

/** The receiver's reads at the sender, against a fake sender that answers batches entry by entry. */
describe('peer', () => {
  it('reads a document level of many references in batches well inside a sender entry limit, in order', async () => {
    const batchSizes: number[] = [];
    const client = {
      async authorizedFetch(_url: string, init: RequestInit) {
        const batch = JSON.parse(String(init.body)) as Bundle;
        batchSizes.push(batch.entry?.length ?? 0);
        const entry = (batch.entry ?? []).map(({ request }) => {
          const [resourceType, id] = String(request?.url).split('/');
          return { response: { status: '200 OK' }, resource: { resourceType, id } };
        });
        return new Response(JSON.stringify({ resourceType: 'Bundle', type: 'batch-response', entry }), { headers: { 'content-type': 'application/fhir+json' } });
      },
    } as unknown as TokenClient;
    const registry = { trusted: () => ({ endpoints: { fhir: 'https://sender.example/fhir/stu3' } }) } as unknown as TrustRegistry;
    const keys = Array.from({ length: 250 }, (_, at) => `Observation/o${at}`);
    const resources = await createPeer(client, registry).readAll({ tenant: 'vvt', peer: 'hospital' }, keys);
    expect(batchSizes).toEqual([100, 100, 50]);
    expect(resources.map((resource) => `${resource.resourceType}/${resource.id}`)).toEqual(keys);
  });
});
