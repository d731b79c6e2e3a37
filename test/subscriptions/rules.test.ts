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
import { isPrivateAddress } from '../../src/auth/transport.js';
import { EndpointPolicy, type EndpointDecision, type Owner } from '../../src/subscriptions/endpoints.js';
import { matchesFilters, parseFilterCriteria, type FilterValues } from '../../src/subscriptions/filters.js';
import { signNotification, verifyNotification } from '../../src/subscriptions/signature.js';
import { ownerTag, readSubscription } from '../../src/subscriptions/subscription.js';
import { readTopic, subscriptionTopics } from '../../src/subscriptions/topics.js';
import { Transport } from '../../src/subscriptions/transport.js';
import { receiver, topicSubscription } from './support.js';
import { DEFAULT_LIMITS } from '../../src/config/config.js';
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
      DEFAULT_LIMITS,
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

  it('holds classic criteria to the search limits of a client query, so that no standing search reaches a database limit', () => {
    const criteria = `MeasureReport?${'subject=Organization/x&'.repeat(DEFAULT_LIMITS.searchParameters + 1)}`;
    const problems = readSubscription({ resourceType: 'Subscription', status: 'requested', criteria, channel: { type: 'rest-hook', endpoint: 'https://hub.example/hook' } }, topics, DEFAULT_LIMITS);
    expect(Array.isArray(problems) && problems.map((problem) => problem.details?.text)).toEqual([expect.stringMatching(/^criteria: .*exceeds limits\.searchParameters \(50\)$/)]);
  });

  it('names the element of each problem', () => {
    const problems = readSubscription(
      { resourceType: 'Subscription', status: 'nonsense', criteria: 'Patient', channel: { type: 'email', payload: 'text/plain', header: ['bad header'] } },
      topics,
      DEFAULT_LIMITS,
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
    new EndpointPolicy({ mode, allowedEndpoints: ['https://ehr.internal/hooks', 'http://10.0.0.5:8080/in/'], trusted: (id) => [hospital, other].find((org) => org.id === id), ownPort: 8080 });
  const ehr: Owner = { kind: 'ehr' };
  const byHospital: Owner = { kind: 'organization', id: 'hospital' };
  const internal = { privateAllowed: true, allowlisted: true };
  const loopback = { privateAllowed: true, allowlisted: false };

  it.each<[string, 'production' | 'development', Owner, string, EndpointDecision | RegExp]>([
    ['allowlisted', 'production', ehr, 'https://ehr.internal/hooks/a', internal],
    ['allowlisted, exact', 'production', ehr, 'https://ehr.internal/hooks', internal],
    ['not a path under the prefix', 'production', ehr, 'https://ehr.internal/hooksx', /allowedEndpoints/],
    ['allowlisted plain http on the internal network', 'production', ehr, 'http://10.0.0.5:8080/in/x', internal],
    ["the remote subscriber's own endpoint", 'production', byHospital, 'https://hospital.example/notify/board', { privateAllowed: false, allowlisted: false }],
    ["another organisation's endpoint", 'production', byHospital, 'https://other.example/notify', /configured endpoints of 'hospital'/],
    ["an EHR using an organisation's endpoint", 'production', ehr, 'https://hospital.example/notify', /allowedEndpoints/],
    ['plain http to a trusted endpoint', 'production', byHospital, 'http://hospital.example/oauth/hook', /plain http/],
    ['loopback in production', 'production', ehr, 'http://127.0.0.1:9999/x', /allowedEndpoints/],
    ['loopback in development', 'development', ehr, 'http://127.0.0.1:9999/x', loopback],
    ['any other host in development', 'development', ehr, 'https://attacker.example/x', /allowedEndpoints/],
    ['credentials in the URL', 'production', ehr, 'https://user:pw@ehr.internal/hooks/a', /credentials/],
    ['another scheme', 'production', ehr, 'file:///etc/passwd', /not supported/],
    ['not a URL', 'production', ehr, 'hooks', /absolute URL/],
    // A remote subscriber never reaches the tenant's internal endpoints, in either mode.
    ["a remote subscriber aiming at the tenant's allowlisted EHR", 'production', byHospital, 'https://ehr.internal/hooks/admin?x=1', /configured endpoints of 'hospital'/],
    ['a remote subscriber aiming at loopback in development', 'development', byHospital, 'http://127.0.0.1:9999/x', /configured endpoints of 'hospital'/],
    // The path as the receiver reads it.
    ['an encoded dot-dot-slash', 'production', ehr, 'https://ehr.internal/hooks/%2E%2E%2Fadmin', /encoded slash/],
    ['an encoded backslash', 'production', ehr, 'https://ehr.internal/hooks/..%5Cadmin', /encoded slash, backslash/],
    ['a double-encoded slash', 'production', ehr, 'https://ehr.internal/hooks/..%252Fadmin', /percent sign/],
    ['an encoded dot segment', 'production', ehr, 'https://ehr.internal/hooks/a/%2e%2e/b', /encoded dot segment/],
    ['a backslash', 'production', ehr, 'https://ehr.internal/hooks\\..\\admin', /backslash/],
    ['a literal dot segment leaving the prefix', 'production', ehr, 'https://ehr.internal/hooks/../admin', /allowedEndpoints/],
    ['a literal dot segment inside the prefix', 'production', ehr, 'https://ehr.internal/hooks/a/../b', internal],
    ['a percent-encoded letter, compared decoded', 'production', ehr, 'https://ehr.internal/ho%6Fks/a', internal],
    ['a tab the URL parser would drop', 'production', ehr, 'https://ehr.internal/hoo\tks/a', /whitespace or control/],
    ['empty userinfo', 'production', ehr, 'https://@ehr.internal/hooks/a', /credentials/],
    ['malformed percent-encoding', 'production', ehr, 'https://ehr.internal/hooks/%E0%A4%A', /percent-encoding/],
    // Development mode: a developer's receiver on loopback, not a system service and not the gateway itself.
    ['ssh on loopback in development', 'development', ehr, 'http://127.0.0.1:22/x', /port 22 is a privileged port/],
    ['the default port on loopback in development', 'development', ehr, 'http://localhost/x', /port 80 is a privileged port/],
    ["the gateway's own port in development", 'development', ehr, 'http://localhost:8080/fhir/Subscription', /port 8080 is this gateway's own/],
  ])('%s', (_name, mode, owner, endpoint, expected) => {
    const decision = policy(mode).decide(endpoint, owner);
    if (expected instanceof RegExp) expect('problem' in decision && decision.problem).toMatch(expected);
    else expect(decision).toEqual(expected);
  });

  describe('with the channel headers', () => {
    const bearer = 'Authorization: Bearer x';
    const channel = (owner: Owner, endpoint: string, lines: string[]) => {
      const plan = readSubscription({ ...topicSubscription({ endpoint, headers: lines }), meta: { tag: [ownerTag(owner)] } }, topics, DEFAULT_LIMITS);
      if (Array.isArray(plan)) throw new Error(JSON.stringify(plan));
      const decision = policy('development').decideChannel(plan.endpoint, plan.headers, plan.owner);
      return 'problems' in decision ? decision.problems.map((problem) => `${problem.expression?.[0]}: ${problem.details?.text}`).join('\n') : decision;
    };

    it.each<[string, Owner, string, string[], RegExp]>([
      ['a remote subscriber setting Authorization', byHospital, 'https://hospital.example/notify', [bearer], /header: channel.header may not set Authorization: a remote subscriber's/],
      ['a remote subscriber setting a Cookie', byHospital, 'https://hospital.example/notify', ['Cookie: session=1'], /may not set Cookie/],
      ['the EHR setting Authorization outside the allowlist', ehr, 'http://127.0.0.1:9999/x', [bearer], /Authorization only towards subscriptions.allowedEndpoints/],
      ['a proxy header', ehr, 'https://ehr.internal/hooks/a', ['Proxy-Authorization: Basic x'], /may not set Proxy-Authorization/],
      ['a forwarding header', ehr, 'https://ehr.internal/hooks/a', ['X-Forwarded-For: 10.0.0.1'], /may not set X-Forwarded-For/],
      ['a method override', ehr, 'https://ehr.internal/hooks/a', ['X-HTTP-Method-Override: DELETE'], /may not set X-HTTP-Method-Override/],
      ['a hop-by-hop header', ehr, 'https://ehr.internal/hooks/a', ['Connection: close'], /may not set Connection/],
      ['duplicate names, in any case', ehr, 'https://ehr.internal/hooks/a', [bearer, 'authorization: Bearer y'], /sets authorization twice/],
      ['a CR LF in a value', ehr, 'https://ehr.internal/hooks/a', ['X-A: 1\r\nX-B: 2'], /on one line/],
      ['a trailing CR LF', ehr, 'https://ehr.internal/hooks/a', ['X-A: 1\r\n'], /on one line/],
      ['a space before the colon', ehr, 'https://ehr.internal/hooks/a', ['X-A : 1'], /a token as name/],
      ['a control character in a value', ehr, 'https://ehr.internal/hooks/a', ['X-A: 1\u0001'], /visible ASCII/],
      ['a 20 kB header', ehr, 'https://ehr.internal/hooks/a', [`X-Big: ${'x'.repeat(20_000)}`], /channel.header is 20007 bytes, more than the limit of 4096/],
      ['too many headers', ehr, 'https://ehr.internal/hooks/a', Array.from({ length: 11 }, (_, i) => `X-${i}: ${i}`), /channel.header has 11 lines, more than the limit of 10/],
      ['an endpoint and a header at once', byHospital, 'https://ehr.internal/hooks/a', [bearer], /endpoint: channel.endpoint: .* not under .*\n.*header: channel.header may not set Authorization/],
    ])('refuses %s', (_name, owner, endpoint, lines, expected) => {
      expect(channel(owner, endpoint, lines)).toMatch(expected);
    });

    it.each<[string, Owner, string, string[]]>([
      ['the EHR with Authorization towards its allowlist', ehr, 'https://ehr.internal/hooks/a', [bearer, 'X-Tenant: a']],
      ['a remote subscriber with a header of its own', byHospital, 'https://hospital.example/notify', ['X-Correlation: 7']],
    ])('allows %s', (_name, owner, endpoint, lines) => {
      expect(channel(owner, endpoint, lines)).toMatchObject({ privateAllowed: expect.any(Boolean) });
    });
  });

  it('refuses a trusted endpoint written as a private address', () => {
    const inward: TrustedOrganization = { id: 'inward', name: 'I', endpoints: { notification: 'https://169.254.169.254/latest' } };
    const decision = new EndpointPolicy({ mode: 'production', allowedEndpoints: [], trusted: () => inward, ownPort: 8080 }).decide('https://169.254.169.254/latest/meta-data', { kind: 'organization', id: 'inward' });
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
