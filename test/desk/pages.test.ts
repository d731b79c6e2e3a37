import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../src/config/config.js';
import { fhirCall } from '../harness/calls.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/**
 * The desk's pages over HTTP on a development gateway (the demo user signs in without an identity provider): what
 * is public, what needs a session, and every refusal (no session, a form without its token, a redirect elsewhere).
 */
let gateway: TestGateway;

beforeAll(async () => {
  // one trusted proxy hop (loopback): its X-Forwarded-Proto says whether the browser came over https
  gateway = await startTestGateway(['hospital-a'], { trustProxy: 1 });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
});

const get = (path: string, cookie = '') => fetch(`${gateway.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
const post = (path: string, form: Record<string, string>, cookie = '') =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });

/** Signs the demo user in; the session cookie and the form token of its pages. */
async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const answer = await post('/desk/sign-in/demo', {});
  expect(answer.status).toBe(303);
  const session = answer.headers.getSetCookie().find((cookie) => cookie.startsWith('desk_session='))!;
  expect(session).toMatch(/HttpOnly/);
  expect(session).toMatch(/SameSite=Lax/);
  expect(session).not.toMatch(/Secure/); // plain http on loopback
  const cookie = session.split(';')[0];
  const page = await (await get('/desk/match', cookie)).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)![1] };
}

describe('the front door', () => {
  it('tells what the gateway is, whom it hosts, where its APIs are, in Dutch unless English is chosen', async () => {
    const answer = await get('/');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/text\/html/);
    const page = await answer.text();
    expect(page).toContain('<html lang="nl">');
    expect(page).toContain('Test organisation hospital-a');
    for (const link of ['/fhir/metadata', '/fhir/stu3/metadata', '/healthz', '/readyz', '/metrics', '/docs/README.md']) expect(page).toContain(`href="${link}"`);
    const english = await get('/', 'desk_lang=en');
    expect(await english.text()).toContain('<html lang="en">');
  });

  it('serves the documentation it links to, and nothing else from that route', async () => {
    const readme = await get('/docs/README.md');
    expect(readme.headers.get('content-type')).toMatch(/text\/markdown/);
    expect(await readme.text()).toContain('# vervolgzorg-gateway');
    expect((await get('/docs/desk.md')).status).toBe(200);
    for (const elsewhere of ['..%2Fpackage.json', 'package.json', 'nothing.md']) expect((await get(`/docs/${elsewhere}`)).status).toBe(404);
  });

  it('keeps the language switch on this gateway', async () => {
    const local = await get('/desk/language/en?back=/desk/match');
    expect(local.headers.get('location')).toBe('/desk/match');
    for (const elsewhere of ['https://evil.example/', '//evil.example/', '/\\evil.example']) {
      const answer = await get(`/desk/language/en?back=${encodeURIComponent(elsewhere)}`);
      expect(answer.headers.get('location')).toBe('/');
    }
  });

  it('serves htmx and Chart.js from the installed packages, and nothing else from the asset route', async () => {
    expect((await get('/desk/assets/htmx.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await get('/desk/assets/chart.js')).status).toBe(200);
    expect((await get('/desk/assets/..%2F..%2Fpackage.json')).status).toBe(404);
    expect((await get('/desk/assets/constructor')).status).toBe(404);
  });
});

describe('the desk behind sign-in', () => {
  it('sends a browser without a session to the front door, and opens no event stream for it', async () => {
    for (const path of ['/desk', '/desk/match', '/desk/chart', '/desk/transfers']) {
      const answer = await get(path);
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe('/');
    }
    expect((await get('/desk/events')).status).toBe(401);
    expect((await get('/desk', 'desk_session=made-up')).headers.get('location')).toBe('/');
  });

  it('signs the demo user in (development mode) and out; sign-out needs the form token', async () => {
    const { cookie, csrf } = await signIn();
    expect((await get('/desk/match', cookie)).status).toBe(200);
    const forged = await post('/desk/sign-out', { _csrf: 'forged' }, cookie);
    expect(forged.status).toBe(403);
    expect((await get('/desk/match', cookie)).status).toBe(200);
    const out = await post('/desk/sign-out', { _csrf: csrf }, cookie);
    expect(out.headers.get('location')).toBe('/');
    expect((await get('/desk/match', cookie)).headers.get('location')).toBe('/');
  });

  it('refuses a form it cannot read with a 4xx, never a 5xx', async () => {
    const large = await fetch(`${gateway.url}/desk/sign-out`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${'x'.repeat(20_000)}` });
    expect(large.status).toBe(413);
    const unreadable = await fetch(`${gateway.url}/desk/sign-out`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=klingon' }, body: '_csrf=x' });
    expect(unreadable.status).toBe(415);
  });

  it('marks the session cookie Secure when the browser came over https', async () => {
    const answer = await fetch(`${gateway.url}/desk/sign-in/demo`, { method: 'POST', redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    expect(answer.headers.getSetCookie().find((cookie) => cookie.startsWith('desk_session='))).toMatch(/; Secure/);
  });

  it('shows a hospital its transfers without patient data and audits every view', async () => {
    const { cookie } = await signIn();
    const page = await (await get('/desk/transfers', cookie)).text();
    expect(page).toContain('Mijn overdrachten');
    const token = await gateway.token('hospital-a');
    const audit = await fhirCall(gateway.url, token, 'GET', '/fhir/AuditEvent?_count=100');
    const views = ((audit.body.entry ?? []) as { resource: { outcomeDesc?: string; agent?: { who?: { identifier?: { value?: string } } }[] } }[]).filter(
      (entry) => entry.resource.outcomeDesc === 'Regional desk: transfer overview',
    );
    expect(views).toHaveLength(1);
    expect(JSON.stringify(views[0].resource.agent)).toContain('demo');
  });

  it('tells an organisation without a coordination point that it cannot search', async () => {
    const { cookie } = await signIn();
    expect((await get('/desk', cookie)).headers.get('location')).toBe('/desk/match');
    expect(await (await get('/desk/match?care-type=elv-hoog&postcode=3011', cookie)).text()).toContain('geen coördinatiepunt ingesteld');
  });
});

describe('the desk configuration', () => {
  it('refuses a person mapped to an organisation the gateway does not host', () => {
    const config = {
      publicBaseUrl: 'https://gateway.example',
      organizations: [{ id: 'zcc', name: 'ZCC', ura: '12345678', roles: ['coordination-point'] }],
      desk: { oidc: { issuer: 'https://idp.example', clientId: 'desk' }, people: [{ subject: 'someone', organizations: ['elsewhere'] }] },
    };
    expect(() => parseConfig(config)).toThrow(/desk.people 'someone' names 'elsewhere'/);
    expect(() => parseConfig({ ...config, desk: { oidc: { issuer: 'not a url', clientId: 'desk' } } })).toThrow(/desk/);
  });
});
