import { startTestGateway } from '../harness/gateways.js';

/**
 * Run by limits-heap.test.ts as a child process under a 256 MB heap bound (as docker-compose sets it): a gateway with
 * the default limits and 300 Patients of about 7 kB, then the batch of finding 2 from its own EHR, 100 entries of
 * `Patient?_count=1000` (5.6 kB). Prints what the batch answered as one JSON line; before the limits, the process died.
 */
const gateway = await startTestGateway();
try {
  const token = await gateway.token('tenant-a');
  const post = (body: unknown) =>
    fetch(`${gateway.url}/fhir`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(body),
    });
  const entry = Array.from({ length: 300 }, (_, i) => ({
    resource: { resourceType: 'Patient', name: [{ family: `${i}`, given: ['x'.repeat(7000)] }] },
    request: { method: 'POST', url: 'Patient' },
  }));
  const seeded = await post({ resourceType: 'Bundle', type: 'transaction', entry });
  if (seeded.status !== 200) throw new Error(`seeding answered ${seeded.status}`);
  await seeded.arrayBuffer();
  const searches = Array.from({ length: 100 }, () => ({ request: { method: 'GET', url: 'Patient?_count=1000' } }));
  const answer = await post({ resourceType: 'Bundle', type: 'batch', entry: searches });
  const body = (await answer.json()) as { entry?: { response: { status: string } }[] };
  const statuses: Record<string, number> = {};
  for (const item of body.entry ?? []) statuses[item.response.status] = (statuses[item.response.status] ?? 0) + 1;
  console.log(JSON.stringify({ status: answer.status, statuses, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) }));
} finally {
  await gateway.close();
}
