import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { importSigningKey, importVerificationKey } from '../../src/auth/jwk.js';
import type { Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import { openStore } from '../../src/store/index.js';
import { ownerTag } from '../../src/subscriptions/subscription.js';
import { CAPACITY_CHANGED_TOPIC, SIGNATURE_HEADER, TASK_STATUS_CHANGED_TOPIC, verifyNotification } from '../../src/subscriptions/index.js';
import { eventually } from '../harness/eventually.js';
import { fhirCall } from '../harness/calls.js';
import { eventNumbers, receiver, statusOf, topicSubscription, world, type Receiver, type World } from './support.js';

/**
 * The Subscription API of a coordination point's gateway (in this process) over HTTP: topic and classic
 * subscriptions, the handshake, notifications as the backport IG shapes them, filters, content levels, validation,
 * the signature, remote subscribers with their own token and nothing but their own subscriptions, `$status` and
 * `$events`. Providers publish as their gateways would, with a capacity-publication token.
 */
let w: World;
let hooks: Receiver;
const HOSPITAL_TOKEN = 'issued-by-the-hospital';

beforeAll(async () => {
  hooks = await receiver();
  w = await world({
    providers: 3,
    subscriptions: { allowedEndpoints: [`${hooks.url}/ehr`, `${hooks.url}/hospital`] },
    hospitalEndpoints: { oauth: `${hooks.url}/oauth2/token`, notification: `${hooks.url}/hospital` },
  });
  // The hospital's token endpoint: checks the coordination point's grant, as a real authorization server would.
  const zccKey = await importJWK((await importSigningKey(w.zcc.id, w.zcc.jwk)).publicJwk as JWK, 'ES256');
  hooks.answer = async (request) => {
    if (request.path !== '/oauth2/token') return 200;
    await jwtVerify(new URLSearchParams(request.body).get('assertion') ?? '', zccKey, { issuer: w.zcc.id, subject: w.hospital.id });
    return { status: 200, json: { access_token: HOSPITAL_TOKEN, token_type: 'bearer', expires_in: 60 } };
  };
}, 60_000);

afterAll(async () => {
  await w?.close();
  await hooks?.close();
});

let counter = 0;
/** A change of availability the board has not seen yet (same counts twice is no change). */
const publishChange = (provider = 0, careType = 'elv-hoog', region = 'rijnmond') => {
  counter += 1;
  return w.publish(w.providers[provider], [[careType, counter]], region);
};

async function subscribe(body: Resource, token?: string): Promise<Resource> {
  const answer = await fhirCall(w.url, token ?? (await w.ehr()), 'POST', '/fhir/Subscription', body);
  expect(answer.status).toBe(201);
  return answer.body;
}

async function active(id: string, token?: string): Promise<Resource> {
  return eventually(`Subscription/${id} active`, async () => {
    const answer = await fhirCall(w.url, token ?? (await w.ehr()), 'GET', `/fhir/Subscription/${id}`);
    return answer.body.status === 'active' ? answer.body : undefined;
  });
}

/** The bodies of availability the Export AuditEvents record: where each went, its SHA-256, and the payload where kept. */
async function exportRecords(): Promise<{ destination?: string; sha256?: string; kept?: unknown }[]> {
  const { body } = await fhirCall(w.url, await w.ehr(), 'GET', '/fhir/AuditEvent?type=http://dicom.nema.org/resources/ontology/DCM|110106&_count=1000');
  const entities = (body.entry as { resource: Resource }[]).flatMap(({ resource }) => resource.entity as { detail: { type: string; valueString?: string; valueBase64Binary?: string }[] }[]);
  return entities.map(({ detail: details }) => {
    const detail = (type: string) => details.find((item) => item.type === type);
    const kept = detail('payload')?.valueBase64Binary;
    return { destination: detail('destination')?.valueString, sha256: detail('sha256')?.valueString, kept: kept && JSON.parse(Buffer.from(kept, 'base64').toString('utf8')) };
  });
}

const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');

const arrived = (path: string, count: number) =>
  eventually(`${count} notifications at ${path}`, async () => (hooks.at(path).length >= count ? hooks.at(path) : undefined));

describe('topics', () => {
  it('are published in the tenant as Basic resources with their canonical URLs', async () => {
    const { status, body } = await fhirCall(w.url, await w.ehr(), 'GET', '/fhir/Basic?code=SubscriptionTopic');
    expect(status).toBe(200);
    const urls = (body.entry as { resource: Resource }[]).map(({ resource }) =>
      (resource.extension as { url: string; valueUri?: string }[]).find((extension) => extension.url.endsWith('SubscriptionTopic.url'))?.valueUri,
    );
    expect(urls.sort()).toEqual([CAPACITY_CHANGED_TOPIC, TASK_STATUS_CHANGED_TOPIC].sort());
  });

  it('and the operations are in the CapabilityStatement, under Subscription', async () => {
    const { body } = await fhirCall(w.url, await w.ehr(), 'GET', '/fhir/metadata');
    const [rest] = body.rest as { resource: { type: string; operation?: { name: string; definition: string }[] }[] }[];
    const operations = rest.resource.find((resource) => resource.type === 'Subscription')?.operation;
    for (const name of ['events', 'resend', 'status']) {
      expect(operations).toContainEqual({ name, definition: `http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-${name}` });
    }
  });
});

describe('a topic subscription', () => {
  it('starts requested, is verified with a handshake, and then turns active', async () => {
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}/ehr/handshake` }));
    expect(created.status).toBe('requested');
    const [handshake] = await arrived('/ehr/handshake', 1);
    const status = statusOf(handshake.body);
    expect(status).toMatchObject({ type: 'handshake', status: 'requested', eventsSinceStart: 0, events: [] });
    expect(status.bundle).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    expect((status.bundle.entry as { resource: Resource }[])[0].resource.resourceType).toBe('Parameters');
    await active(String(created.id));
  });

  it('is notified of each change with its event number, the focus and the egress-built report, signed', async () => {
    const path = '/ehr/full';
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, content: 'full-resource' }));
    await active(String(created.id));
    expect(await publishChange()).toBeLessThan(300);
    expect(await publishChange()).toBeLessThan(300);
    const received = await arrived(path, 3);
    expect(eventNumbers(hooks, path)).toEqual([1, 2]);
    const event = statusOf(received[2].body);
    expect(event).toMatchObject({ type: 'event-notification', status: 'active', eventsSinceStart: 2, topic: CAPACITY_CHANGED_TOPIC });
    expect(event.events).toEqual([{ number: 2, focus: `${w.gateway.config.publicBaseUrl}/fhir/MeasureReport/ura-${w.providers[0].ura}` }]);
    const report = (event.bundle.entry as { resource: Resource }[])[1].resource;
    expect(report).toMatchObject({ resourceType: 'MeasureReport', id: `ura-${w.providers[0].ura}`, status: 'complete' });
    expect(Object.keys(report).sort()).toEqual(['contained', 'date', 'group', 'id', 'measure', 'meta', 'period', 'reporter', 'resourceType', 'status', 'type']);

    const key = await importVerificationKey((await importSigningKey(w.zcc.id, w.zcc.jwk)).publicJwk);
    const resolve = () => key;
    const target = `${hooks.url}${path}`;
    const signature = String(received[2].headers[SIGNATURE_HEADER]);
    await expect(verifyNotification(received[2].body, signature, resolve, { target })).resolves.toMatchObject({ kid: expect.stringMatching(/^zcc#/) });
    await expect(verifyNotification(received[2].body.replace('"count":', '"count": '), signature, resolve, { target })).rejects.toThrow('signature');
    await expect(verifyNotification(received[2].body, signature, resolve, { target: `${hooks.url}/elsewhere` })).rejects.toThrow('signed for');
  });

  it.each(['application/fhir+json', 'application/fhir+xml'])('records each release in %s by the SHA-256 of the exact bytes sent, and keeps the availability they carry', async (payload) => {
    const path = `/ehr/audited-${payload.split('+')[1]}`;
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, content: 'full-resource', payload }));
    await active(String(created.id));
    await publishChange();
    const [, notification] = await arrived(path, 2);
    const records = await exportRecords();
    expect(records.filter((record) => record.destination === `${hooks.url}${path}`).map((record) => record.sha256)).toContain(sha256(notification.body));
    const id = `ura-${w.providers[0].ura}`;
    const kept = records.map((record) => record.kept as Resource | undefined).filter((report) => report?.id === id);
    expect(kept.length).toBeGreaterThan(0);
    for (const report of kept) expect(Object.keys(report ?? {}).sort()).toEqual(['contained', 'date', 'group', 'id', 'measure', 'meta', 'period', 'reporter', 'resourceType', 'status', 'type']);
  });

  it.each([
    ['empty', undefined, 1],
    ['id-only', 'focus', 1],
  ] as const)('with %s content carries no resource', async (content, focus, entries) => {
    const path = `/ehr/${content}`;
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, content }));
    await active(String(created.id));
    await publishChange();
    const [, notification] = await arrived(path, 2);
    const status = statusOf(notification.body);
    expect((status.bundle.entry as unknown[]).length).toBe(entries);
    expect(status.topic === undefined).toBe(content === 'empty');
    expect('focus' in status.events[0]).toBe(focus !== undefined);
  });

  it('is notified in XML when its payload asks for application/fhir+xml', async () => {
    const path = '/ehr/xml';
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, content: 'full-resource', payload: 'application/fhir+xml' }));
    await active(String(created.id));
    await publishChange();
    const [, notification] = await arrived(path, 2);
    expect(notification.headers['content-type']).toContain('application/fhir+xml');
    const bundle = parseXml('r4', notification.body) as Resource & { entry: { resource: Resource }[] };
    expect(bundle.entry.map((entry) => entry.resource.resourceType)).toEqual(['Parameters', 'MeasureReport']);
  });

  it('is only notified of what its filters select: care type, region, provider', async () => {
    const ids = await Promise.all(
      [
        ['grz', 'MeasureReport?care-type=grz'],
        ['haaglanden', 'region=haaglanden'],
        ['provider3', `provider=http://fhir.nl/fhir/NamingSystem/ura|${w.providers[2].ura}`],
        ['both', 'care-type=grz,wlz-crisis'],
      ].map(async ([name, filter]) => (await subscribe(topicSubscription({ endpoint: `${hooks.url}/ehr/filter-${name}`, filters: [filter] }))).id),
    );
    await Promise.all(ids.map((id) => active(String(id))));
    await publishChange(0, 'elv-hoog');
    await publishChange(1, 'grz');
    await publishChange(2, 'wlz-crisis', 'haaglanden');
    await arrived('/ehr/filter-both', 3);
    await arrived('/ehr/filter-grz', 2);
    await arrived('/ehr/filter-haaglanden', 2);
    await arrived('/ehr/filter-provider3', 2);
    const focus = (name: string) => hooks.at(`/ehr/filter-${name}`).slice(1).map((request) => statusOf(request.body).events[0].focus?.split('/').pop());
    expect(focus('grz')).toEqual([`ura-${w.providers[1].ura}`]);
    expect(focus('haaglanden')).toEqual([`ura-${w.providers[2].ura}`]);
    expect(focus('provider3')).toEqual([`ura-${w.providers[2].ura}`]);
    expect(focus('both')).toEqual([`ura-${w.providers[1].ura}`, `ura-${w.providers[2].ura}`]);
    expect(eventNumbers(hooks, '/ehr/filter-both')).toEqual([1, 2]);
  });
});

describe('a classic criteria subscription', () => {
  const classic = (criteria: string, endpoint: string, payload?: string): Resource => ({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'HAPI-style client',
    criteria,
    channel: { type: 'rest-hook', endpoint, ...(payload ? { payload } : {}) },
  });

  it('is active at once; a match PUTs the allowlisted report to [endpoint]/MeasureReport/[id], or POSTs nothing without payload', async () => {
    const withPayload = await subscribe(classic('MeasureReport?status=complete', `${hooks.url}/ehr/classic`, 'application/fhir+json'));
    const without = await subscribe(classic('MeasureReport', `${hooks.url}/ehr/classic-empty`));
    const other = await subscribe(classic('MeasureReport?status=pending', `${hooks.url}/ehr/classic-none`, 'application/fhir+json'));
    expect([withPayload.status, without.status, other.status]).toEqual(['active', 'active', 'active']);
    await publishChange(1);
    const id = `ura-${w.providers[1].ura}`;
    const [put] = await eventually('classic PUT', async () => (hooks.at(`/ehr/classic/MeasureReport/${id}`).length > 0 ? hooks.at(`/ehr/classic/MeasureReport/${id}`) : undefined));
    expect(put.method).toBe('PUT');
    expect(JSON.parse(put.body)).toMatchObject({ resourceType: 'MeasureReport', id, status: 'complete' });
    const [empty] = await arrived('/ehr/classic-empty', 1);
    expect([empty.method, empty.body]).toEqual(['POST', '']);
    expect(hooks.at('/ehr/classic-none')).toEqual([]);
  });
});

describe('what is refused', () => {
  const base = () => topicSubscription({ endpoint: `${hooks.url}/ehr/refused` });
  it.each<[string, (subscription: Resource) => Resource, number, string]>([
    ['an unknown topic', (s) => ({ ...s, criteria: 'https://example.org/SubscriptionTopic/x' }), 422, 'neither a topic'],
    ['criteria on a type that raises no events', (s) => ({ ...s, criteria: 'Patient?name=x' }), 422, 'raise no events'],
    ['a filter the topic does not offer', (s) => ({ ...s, _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: 'subject=Patient/1' }] } }), 422, 'not a filter'],
    ['a payload without content level', (s) => ({ ...s, channel: { ...(s.channel as object), _payload: undefined } }), 422, 'backport-payload-content'],
    ['another channel type', (s) => ({ ...s, channel: { ...(s.channel as object), type: 'websocket' } }), 422, 'only rest-hook'],
    ['an endpoint outside the allowlist', (s) => ({ ...s, channel: { ...(s.channel as object), endpoint: 'https://attacker.example/hook' } }), 422, 'allowedEndpoints'],
    ['an endpoint on a private address', (s) => ({ ...s, channel: { ...(s.channel as object), endpoint: 'http://169.254.169.254/latest/meta-data' } }), 422, 'channel.endpoint'],
    ['a header that splits the request', (s) => ({ ...s, channel: { ...(s.channel as object), header: ['X-A: 1\r\nX-B: 2'] } }), 422, 'one line'],
    ['a header the transport sets', (s) => ({ ...s, channel: { ...(s.channel as object), header: ['Host: elsewhere'] } }), 422, 'may not set'],
    ['a 20 kB header', (s) => ({ ...s, channel: { ...(s.channel as object), header: [`X-Big: ${'x'.repeat(20_000)}`] } }), 422, 'more than the limit of 4096'],
    ['the same header twice', (s) => ({ ...s, channel: { ...(s.channel as object), header: ['Authorization: Bearer a', 'authorization: Bearer b'] } }), 422, 'sets authorization twice'],
    ['an encoded path that leaves the allowlisted prefix', (s) => ({ ...s, channel: { ...(s.channel as object), endpoint: `${hooks.url}/ehr/%2E%2E%2Fadmin` } }), 422, 'encoded slash'],
    ['classic criteria with a header that splits the request', (s) => ({ ...s, criteria: 'MeasureReport', _criteria: undefined, channel: { type: 'rest-hook', endpoint: `${hooks.url}/ehr/c`, header: ['X-A: 1\r\nX-B: 2'] } }), 422, 'on one line'],
    ['status error from a client', (s) => ({ ...s, status: 'error' }), 422, 'Only the server'],
  ])('%s', async (_name, change, status, text) => {
    const answer = await fhirCall(w.url, await w.ehr(), 'POST', '/fhir/Subscription', change(base()));
    expect(answer.status).toBe(status);
    expect(JSON.stringify(answer.body)).toContain(text);
  });
});

describe('a remote subscriber', () => {
  it('subscribes with its token, is notified with a token from its own authorization server, and sees only its own', async () => {
    const token = await w.hospitalToken();
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}/hospital/board` }), token);
    await active(String(created.id), token);
    await publishChange();
    const [, notification] = await arrived('/hospital/board', 2);
    expect(notification.headers.authorization).toBe(`Bearer ${HOSPITAL_TOKEN}`);

    const own = await fhirCall(w.url, token, 'GET', '/fhir/Subscription');
    expect((own.body.entry as { resource: Resource }[]).map(({ resource }) => resource.id)).toEqual([created.id]);
    const ehrs = await subscribe(topicSubscription({ endpoint: `${hooks.url}/ehr/private` }));
    expect((await fhirCall(w.url, token, 'GET', `/fhir/Subscription/${ehrs.id}`)).status).toBe(404);
    expect((await fhirCall(w.url, token, 'GET', `/fhir/Subscription/${ehrs.id}/$events`)).status).toBe(404);
    expect((await fhirCall(w.url, token, 'DELETE', `/fhir/Subscription/${ehrs.id}`)).status).toBe(404);
    const events = await fhirCall(w.url, token, 'GET', `/fhir/Subscription/${created.id}/$events`);
    expect(events.status).toBe(200);
    const statuses = await fhirCall(w.url, token, 'GET', '/fhir/Subscription/$status');
    expect(statuses.body.total).toBe(1);
  });

  it("may not aim at the tenant's internal endpoints nor set credentials, on create or update", async () => {
    const token = await w.hospitalToken();
    const internal = await fhirCall(w.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${hooks.url}/ehr/admin?x=1` }));
    expect(internal.status).toBe(422);
    expect(JSON.stringify(internal.body)).toContain("is not under the configured endpoints of 'hospital'");
    const credentials = await fhirCall(w.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${hooks.url}/hospital/x`, headers: ['Authorization: Bearer chosen'] }));
    expect(credentials.status).toBe(422);
    expect(JSON.stringify(credentials.body)).toContain('may not set Authorization');

    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}/hospital/update` }), token);
    const moved = await fhirCall(w.url, token, 'PUT', `/fhir/Subscription/${created.id}`, { ...topicSubscription({ endpoint: `${hooks.url}/ehr/admin` }), id: created.id });
    expect(moved.status).toBe(422);
    const classic = await fhirCall(w.url, token, 'POST', '/fhir/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'r', criteria: 'MeasureReport', channel: { type: 'rest-hook', endpoint: `${hooks.url}/ehr/classic-stolen` } });
    expect(classic.status).toBe(422);
  });

  it('is not delivered to when stored before the rules: it turns error with the reason and nothing leaves', async () => {
    const store = await openStore({ dataDir: w.site.dataDir });
    try {
      await store.resources.update({ tenant: w.zcc.id, version: 'r4' }, {
        resourceType: 'Subscription',
        id: 'stored-before-the-rules',
        meta: { tag: [ownerTag({ kind: 'organization', id: w.hospital.id })] },
        status: 'active',
        reason: 'accepted by an earlier version',
        criteria: 'MeasureReport',
        channel: { type: 'rest-hook', endpoint: `${hooks.url}/ehr/stolen`, header: ['Authorization: Bearer chosen'] },
      });
    } finally {
      await store.close();
    }
    await publishChange();
    const stopped = await eventually('the stored subscription in error', async () => {
      const answer = await fhirCall(w.url, await w.ehr(), 'GET', '/fhir/Subscription/stored-before-the-rules');
      return answer.body.status === 'error' ? answer.body : undefined;
    });
    expect(stopped.error).toMatch(/channel refused: channel.endpoint: .*configured endpoints of 'hospital'.*; channel.header may not set Authorization/);
    expect(hooks.at('/ehr/stolen')).toEqual([]);
  });

  it('may not subscribe to Task status changes, nor send notifications elsewhere', async () => {
    const token = await w.hospitalToken();
    const task = await fhirCall(w.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${hooks.url}/hospital/t`, topic: TASK_STATUS_CHANGED_TOPIC }));
    expect(task.status).toBe(403);
    const elsewhere = await fhirCall(w.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: 'https://elsewhere.example/hook' }));
    expect(elsewhere.status).toBe(422);
  });
});

describe('$status and $events', () => {
  it('report the status and replay stored events by number', async () => {
    const path = '/ehr/replay';
    const created = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, content: 'id-only' }));
    await active(String(created.id));
    for (let i = 0; i < 3; i += 1) await publishChange(i % 2);
    await arrived(path, 4);

    const status = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${created.id}/$status`);
    const parameters = (status.body.entry as { resource: Resource }[])[0].resource;
    expect(statusOf(JSON.stringify({ entry: [{ resource: parameters }] }))).toMatchObject({ type: 'query-status', status: 'active', eventsSinceStart: 3 });

    const replay = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${created.id}/$events?eventsSinceNumber=2&content=full-resource`);
    expect(replay.status).toBe(200);
    const replayed = statusOf(JSON.stringify(replay.body));
    expect(replayed).toMatchObject({ type: 'query-event', eventsSinceStart: 3 });
    expect(replayed.events.map((event) => event.number)).toEqual([2, 3]);
    expect((replay.body.entry as { resource: Resource }[]).slice(1).map(({ resource }) => resource.resourceType)).toEqual(['MeasureReport', 'MeasureReport']);

    const posted = await fhirCall(w.url, await w.ehr(), 'POST', `/fhir/Subscription/${created.id}/$events`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'eventsSinceNumber', valueString: '1' }, { name: 'eventsUntilNumber', valueString: '1' }],
    });
    expect(statusOf(JSON.stringify(posted.body)).events.map((event) => event.number)).toEqual([1]);
    expect((await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${created.id}/$events?eventsSinceNumber=x`)).status).toBe(400);

    const all = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/$status?status=active&id=${created.id}`);
    expect(all.body.total).toBe(1);
  });
});
