import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { exportJWK, generateKeyPair } from 'jose';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { importSigningKey, importVerificationKey } from '../../src/auth/jwk.js';
import type { TrustedOrganization } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { CAPACITY_CHANGED_TOPIC, TASK_STATUS_CHANGED_TOPIC } from '../../src/subscriptions/canonical.js';
import { EndpointPolicy, isPrivateAddress, type Owner } from '../../src/subscriptions/endpoints.js';
import { matchesFilters, parseFilterCriteria, type FilterValues } from '../../src/subscriptions/filters.js';
import { signNotification, verifyNotification } from '../../src/subscriptions/signature.js';
import { readSubscription } from '../../src/subscriptions/subscription.js';
import { readTopic, subscriptionTopics } from '../../src/subscriptions/topics.js';
import { Transport } from '../../src/subscriptions/transport.js';
import { receiver, topicSubscription } from './support.js';
import { fixtureFolder } from '../fixtures.js';

/** The rules under the subscription API, one by one: topics, filters, reading a Subscription, endpoints, signatures. */
const FIXTURES = fixtureFolder('capacity/subscriptions-backport');
const topics = subscriptionTopics();
const capacity = topics.get(CAPACITY_CHANGED_TOPIC)!;

describe('topics', () => {
  it('are read from conformance/ with their trigger and filters', () => {
    expect(capacity).toMatchObject({ resourceType: 'MeasureReport', filterParameters: ['care-type', 'region', 'provider'] });
    expect(topics.get(TASK_STATUS_CHANGED_TOPIC)).toMatchObject({ resourceType: 'Task', filterParameters: ['owner', 'status'] });
  });

  it("are read the way the IG's own example topic is written", () => {
    const example = JSON.parse(readFileSync(path.join(FIXTURES, 'Basic-r4-encounter-complete.json'), 'utf8')) as Resource;
    expect(readTopic(example)).toMatchObject({
      url: 'http://hl7.org/fhir/uv/subscriptions-backport/SubscriptionTopic/r4-encounter-complete',
      resourceType: 'Encounter',
      filterParameters: ['subject', '_in', 'length'],
    });
  });
});

describe('filter criteria', () => {
  const values: FilterValues = {
    'care-type': [{ system: 'https://vervolgzorg-gateway.example/fhir/CodeSystem/care-type', code: 'grz' }],
    region: [{ code: 'rijnmond' }],
    provider: [{ system: 'http://fhir.nl/fhir/NamingSystem/ura', code: '22222222' }],
  };
  const matches = (...criteria: string[]) =>
    matchesFilters(
      criteria.flatMap((text) => {
        const parsed = parseFilterCriteria(text, capacity);
        if ('problem' in parsed) throw new Error(parsed.problem);
        return parsed;
      }),
      values,
    );

  it.each<[string[], boolean]>([
    [['care-type=grz'], true],
    [['MeasureReport?care-type=elv-hoog,grz'], true],
    [['care-type=https://vervolgzorg-gateway.example/fhir/CodeSystem/care-type|grz'], true],
    [['care-type=http://other.example|grz'], false],
    [['care-type=|grz'], false],
    [['region=|rijnmond'], true],
    [['provider=22222222&region=rijnmond'], true],
    [['provider=22222222', 'region=haaglanden'], false],
    [['care-type=elv-hoog'], false],
  ])('%j selects: %s', (criteria, expected) => {
    expect(matches(...criteria)).toBe(expected);
  });

  it.each([
    ['Task?owner=x', 'names Task'],
    ['subject=Patient/1', 'not a filter'],
    ['care-type=', 'no value'],
    ['MeasureReport?', 'no filter'],
  ])('refuses %s', (criteria, problem) => {
    expect(parseFilterCriteria(criteria, capacity)).toEqual({ problem: expect.stringContaining(problem) });
  });

  it('selects an event exactly when every filter names one of its values (property)', () => {
    const code = fc.stringMatching(/^[a-z]{2,6}$/);
    fc.assert(
      fc.property(fc.uniqueArray(code, { minLength: 1, maxLength: 4 }), fc.array(code, { minLength: 1, maxLength: 4 }), (present, asked) => {
        const event: FilterValues = { region: present.map((value) => ({ code: value })) };
        const parsed = parseFilterCriteria(`region=${asked.join(',')}`, capacity);
        if ('problem' in parsed) return false;
        return matchesFilters(parsed, event) === asked.some((value) => present.includes(value));
      }),
    );
  });
});

describe('reading a Subscription', () => {
  it('reads the backport shape into a plan', () => {
    const plan = readSubscription(
      { ...topicSubscription({ endpoint: 'https://hub.example/hook', content: 'full-resource', filters: ['care-type=grz'], headers: ['Authorization: Bearer x'], heartbeatSeconds: 60 }), id: 's1', meta: { versionId: '2' } },
      topics,
    );
    expect(plan).toMatchObject({
      id: 's1',
      versionId: '2',
      status: 'requested',
      owner: { kind: 'ehr' },
      trigger: { kind: 'topic', filters: [{ parameter: 'care-type' }] },
      endpoint: 'https://hub.example/hook',
      headers: [['Authorization', 'Bearer x']],
      format: 'json',
      content: 'full-resource',
      heartbeatSeconds: 60,
    });
  });

  it('names the element of each problem', () => {
    const problems = readSubscription(
      { resourceType: 'Subscription', status: 'nonsense', criteria: 'Patient', channel: { type: 'email', payload: 'text/plain', header: ['bad header'] } },
      topics,
    );
    expect(Array.isArray(problems) && problems.map((problem) => problem.expression?.[0])).toEqual([
      'Subscription.status',
      'Subscription.criteria',
      'Subscription.channel.type',
      'Subscription.channel.endpoint',
      'Subscription.channel.payload',
      'Subscription.channel.header',
    ]);
  });
});

describe('the endpoint policy', () => {
  const hospital: TrustedOrganization = { id: 'hospital', name: 'H', endpoints: { notification: 'https://hospital.example/notify', oauth: 'http://hospital.example/oauth' } };
  const other: TrustedOrganization = { id: 'other', name: 'O', endpoints: { notification: 'https://other.example/notify' } };
  const policy = (mode: 'production' | 'development') =>
    new EndpointPolicy({ mode, allowedEndpoints: ['https://ehr.internal/hooks', 'http://10.0.0.5:8080/in/'], trusted: (id) => [hospital, other].find((org) => org.id === id) });
  const ehr: Owner = { kind: 'ehr' };
  const byHospital: Owner = { kind: 'organization', id: 'hospital' };

  it.each<[string, 'production' | 'development', Owner, string, { privateAllowed: boolean } | RegExp]>([
    ['allowlisted', 'production', ehr, 'https://ehr.internal/hooks/a', { privateAllowed: true }],
    ['allowlisted, exact', 'production', ehr, 'https://ehr.internal/hooks', { privateAllowed: true }],
    ['not a path under the prefix', 'production', ehr, 'https://ehr.internal/hooksx', /allowedEndpoints/],
    ['allowlisted plain http on the internal network', 'production', ehr, 'http://10.0.0.5:8080/in/x', { privateAllowed: true }],
    ["the remote subscriber's own endpoint", 'production', byHospital, 'https://hospital.example/notify/board', { privateAllowed: false }],
    ["another organisation's endpoint", 'production', byHospital, 'https://other.example/notify', /configured endpoints of 'hospital'/],
    ["an EHR using an organisation's endpoint", 'production', ehr, 'https://hospital.example/notify', /allowedEndpoints/],
    ['plain http to a trusted endpoint', 'production', byHospital, 'http://hospital.example/oauth/hook', /plain http/],
    ['loopback in production', 'production', ehr, 'http://127.0.0.1:9999/x', /allowedEndpoints/],
    ['loopback in development', 'development', ehr, 'http://127.0.0.1:9999/x', { privateAllowed: true }],
    ['any other host in development', 'development', ehr, 'https://attacker.example/x', /allowedEndpoints/],
    ['credentials in the URL', 'production', ehr, 'https://user:pw@ehr.internal/hooks/a', /credentials/],
    ['another scheme', 'production', ehr, 'file:///etc/passwd', /not supported/],
    ['not a URL', 'production', ehr, 'hooks', /absolute URL/],
  ])('%s', (_name, mode, owner, endpoint, expected) => {
    const decision = policy(mode).decide(endpoint, owner);
    if (expected instanceof RegExp) expect('problem' in decision && decision.problem).toMatch(expected);
    else expect(decision).toEqual(expected);
  });

  it('refuses a trusted endpoint written as a private address', () => {
    const inward: TrustedOrganization = { id: 'inward', name: 'I', endpoints: { notification: 'https://169.254.169.254/latest' } };
    const decision = new EndpointPolicy({ mode: 'production', allowedEndpoints: [], trusted: () => inward }).decide('https://169.254.169.254/latest/meta-data', { kind: 'organization', id: 'inward' });
    expect(decision).toEqual({ problem: expect.stringContaining('private') });
  });

  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['203.0.113.7', false],
    ['8.8.8.8', false],
    ['2001:db8::1', false],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('checks the addresses a name resolves to when a delivery connects', async () => {
    const target = await receiver();
    const transport = new Transport(2);
    try {
      const port = new URL(target.url).port;
      const delivery = { url: new URL(`http://localhost:${port}/x`), method: 'POST' as const, headers: {}, body: '{}', timeoutMs: 2000 };
      await expect(transport.send({ ...delivery, privateAllowed: false })).rejects.toThrow(/resolves to private address/);
      await expect(transport.send({ ...delivery, privateAllowed: true })).resolves.toBe(200);
      expect(target.all.length).toBe(1);
    } finally {
      transport.close();
      await target.close();
    }
  });
});

describe('notification signatures', () => {
  it.each(['PS256', 'ES384'] as const)('are JWS a JOSE library verifies (%s key)', async (alg) => {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const key = await importSigningKey('zcc', { ...(await exportJWK(privateKey)), alg });
    const verification = await importVerificationKey(key.publicJwk);
    const target = 'https://hub.example/hook';
    const signature = await signNotification('{}', target, key);
    await expect(verifyNotification('{}', signature, () => verification, { target })).resolves.toMatchObject({ alg });
  });

  it('verify against the body and the target, and nothing else', async () => {
    const key = await importSigningKey('zcc', await generatePrivateJwk());
    const verification = await importVerificationKey(key.publicJwk);
    const resolve = () => verification;
    const body = '{"resourceType":"Bundle"}';
    const target = 'https://hub.example/hook';
    const signature = await signNotification(body, target, key);
    expect(signature).toMatch(/^[\w-]+\.\.[\w-]+$/);
    await expect(verifyNotification(body, signature, resolve, { target })).resolves.toMatchObject({ kid: key.kid, htu: target, typ: 'notification+jws' });
    await expect(verifyNotification(`${body} `, signature, resolve, { target })).rejects.toThrow('signature');
    await expect(verifyNotification(body, signature, () => undefined, { target })).rejects.toThrow('unknown key');
    const later = Date.now() + 10 * 60_000;
    await expect(verifyNotification(body, signature, resolve, { target, clock: () => later })).rejects.toThrow('iat');
    const attached = await signNotification(body, target, key).then((detached) => detached.replace('..', `.${Buffer.from(body).toString('base64url')}.`));
    await expect(verifyNotification(body, attached, resolve, { target })).rejects.toThrow('detached');
  });
});
