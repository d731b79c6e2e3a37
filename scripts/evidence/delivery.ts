import { eventNumbers, receiver, topicSubscription, type Receiver } from '../../test/subscriptions/support.js';
import { fhirCall } from '../../test/harness/calls.js';
import { eventually } from '../../test/harness/eventually.js';

/**
 * What the fault evidence delivers and counts: a coordination point's topic subscriptions (rest-hook, id-only) spread
 * over a few loopback receivers, and per subscriber the event numbers that arrived. Every event of a subscription
 * has its own number (`events-since-subscription-start`), so a redelivery is recognisable as a number seen twice and a
 * loss as a number never seen.
 */
export interface Subscribers {
  receivers: Receiver[];
  count: number;
  /** Requests the receivers answered so far (handshakes included): cheap, for watching progress. */
  requests(): number;
  /** Per subscriber: events expected 1..`events`; how many never arrived, and how many arrived more than once. */
  tally(events: number): { lost: number; duplicates: number; distinct: number; outOfOrder: number; missingNumbers: number[] };
  close(): Promise<void>;
}

export async function subscribers(count: number, receiverCount = 4): Promise<Subscribers> {
  const receivers = await Promise.all(Array.from({ length: receiverCount }, () => receiver()));
  const endpointOf = (i: number) => ({ target: receivers[i % receiverCount], path: `/subscriber/${i}` });
  const numbersOf = (i: number) => eventNumbers(endpointOf(i).target, endpointOf(i).path);
  const all = () => Array.from({ length: count }, (_, i) => i);
  return {
    receivers,
    count,
    requests: () => receivers.reduce((sum, target) => sum + target.all.length, 0),
    tally(events) {
      let lost = 0;
      let duplicates = 0;
      let distinct = 0;
      let outOfOrder = 0;
      const missing = new Set<number>();
      for (const i of all()) {
        const numbers = numbersOf(i);
        const seen = new Set(numbers);
        distinct += seen.size;
        duplicates += numbers.length - seen.size;
        for (const n of Array.from({ length: events }, (_, k) => k + 1).filter((k) => !seen.has(k))) {
          lost += 1;
          missing.add(n);
        }
        const firstSeen = numbers.filter((n, index) => numbers.indexOf(n) === index);
        if (firstSeen.some((n, index) => index > 0 && n < firstSeen[index - 1])) outOfOrder += 1;
      }
      return { lost, duplicates, distinct, outOfOrder, missingNumbers: [...missing].sort((x, y) => x - y) };
    },
    close: async () => void (await Promise.all(receivers.map((target) => target.close()))),
  };
}

/** Subscribes them all at `url` (the tenant's EHR token), 250 per transaction, and waits until all are active. */
export async function subscribeAll(url: string, token: string, target: Subscribers): Promise<void> {
  const endpoint = (i: number) => `${target.receivers[i % target.receivers.length].url}/subscriber/${i}`;
  for (let start = 0; start < target.count; start += 250) {
    const entry = Array.from({ length: Math.min(250, target.count - start) }, (_, offset) => ({
      resource: topicSubscription({ endpoint: endpoint(start + offset), content: 'id-only' }),
      request: { method: 'POST', url: 'Subscription' },
    }));
    const answer = await fhirCall(url, token, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry });
    if (answer.status !== 200) throw new Error(`subscribing answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  await eventually(
    'every subscription active',
    async () => {
      const { body } = await fhirCall(url, token, 'GET', '/fhir/Subscription/$status?status=active');
      return body.total === target.count ? true : undefined;
    },
    60_000,
  );
}
