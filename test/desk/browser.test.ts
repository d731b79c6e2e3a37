/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Resource } from '../../src/fhir/version.js';
import { POPULATION_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { startIdentityProvider, type IdentityProvider } from '../harness/identity-provider.js';
import { party, trustedOrganization, type Party } from '../harness/parties.js';

/**
 * The regional desk in a real Chromium (puppeteer-core over the Debian package): a coordinator signs in through an
 * OpenID provider started here (oidc-provider), sees the board of the coordination point that a provider's gateway
 * publishes to, watches the provider's new count arrive, searches for a place, opens the chart and signs out. Every
 * page passes axe-core without a serious or critical violation, and nothing of the provider's internal data (put
 * into its input on purpose) shows on any page. DESK_SCREENSHOTS=1 writes the README's screenshots to docs/.
 */
const MARK = 'INTERN-7731';
const SUBJECT = 'coordinator-1';
const require = createRequire(import.meta.url);
const axeSource = (require('axe-core') as { source: string }).source;

let vvt: Party;
let zcc: Party;
let cp: Site;
let provider: Site;
let sites: RunningSites;
let identityProvider: IdentityProvider;
let browser: Browser;
let page: Page;
let providerEhr: string;

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** The provider's EHR input, with internal data the egress allowlist must keep inside. */
function report(available: number, total: number): Resource {
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: 'https://vervolgzorg-gateway.example/fhir/Measure/care-availability',
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${MARK} tarief 312,50</div>` },
    extension: [{ url: 'http://vvt.example/fhir/StructureDefinition/omzetplafond', valueString: `${MARK} omzetplafond` }],
    date: ago(0),
    period: { start: ago(1000), end: ago(1000) },
    group: [
      {
        code: { coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog', display: `${MARK} display` }] },
        population: [
          { code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] }, count: available },
          { code: { coding: [{ system: POPULATION_SYSTEM, code: 'total' }] }, count: total },
        ],
      },
    ],
  };
}

async function axeViolations(): Promise<string[]> {
  await page.evaluate(axeSource);
  const results = await page.evaluate(async () => {
    const run = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run;
    return (await run()).violations.map((violation) => ({ id: violation.id, impact: violation.impact, nodes: violation.nodes.map((node) => node.target.join(' ')) }));
  });
  return results.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical').map((violation) => `${violation.id}: ${violation.nodes.join(', ')}`);
}

async function screenshot(name: string): Promise<void> {
  if (!process.env.DESK_SCREENSHOTS) return;
  const folder = path.join(process.cwd(), 'docs', 'images');
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: path.join(folder, name), fullPage: true });
}

const text = () => page.evaluate(() => document.body.innerText);

beforeAll(async () => {
  [vvt, zcc] = await Promise.all([party('vvt-1', 'Zorggroep Maas', '22222222'), party('zcc', 'ZCC Rijnmond', '44444444')]);
  cp = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'desk-');
  provider = await newSite([{ party: vvt, roles: ['receiver'] }], 'desk-');
  const idp = await startIdentityProvider({
    client: { clientId: 'desk', clientSecret: 'desk-secret' },
    redirectUris: [`${cp.url}/desk/callback`],
    nameOf: () => 'Coördinator Rijnmond',
  });
  identityProvider = idp;
  const coordinationPoint = await trustedOrganization(zcc, { oauth: `${cp.url}/oauth2/token`, fhir: `${cp.url}/fhir` });
  sites = await startSites([cp, provider], (raw) => {
    const hosted = (raw.organizations as { id: string }[])[0].id;
    if (hosted === zcc.id) {
      return { ...raw, desk: { oidc: { issuer: idp.issuer, clientId: 'desk', clientSecret: 'desk-secret' }, people: [{ subject: SUBJECT, organizations: [zcc.id] }] } };
    }
    const others = (raw.trusted as { id: string }[]).filter((organization) => organization.id !== zcc.id);
    return { ...raw, trusted: [...others, coordinationPoint], coordinationPoint: { organization: zcc.id }, capacity: { publishDebounceMs: 20 } };
  });
  providerEhr = await ehrToken(provider.url, vvt);
  const directory = await fhirCall(provider.url, providerEhr, 'PUT', '/fhir/Organization/self', {
    resourceType: 'Organization',
    id: 'self',
    identifier: [{ system: URA_SYSTEM, value: vvt.ura }, { system: 'http://verzekeraar.example/contract', value: `${MARK}-contract` }],
    name: vvt.name,
    extension: [{ url: ZORGREGIO_EXTENSION, valueId: 'rijnmond' }, { url: 'http://vvt.example/clientstop', valueString: `${MARK} clientstop` }],
    address: [{ line: [`${MARK} Zorgstraat 1`], postalCode: '3011 AB', city: 'Rotterdam' }],
    telecom: [{ system: 'phone', value: `${MARK}-phone` }],
  });
  expect(directory.status).toBeLessThan(300);
  expect((await fhirCall(provider.url, providerEhr, 'POST', '/fhir/MeasureReport', report(3, 10))).status).toBe(201);
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  // htmx tells when the board's event stream is open: the test changes a count only then
  await page.evaluateOnNewDocument(() =>
    document.addEventListener('htmx:sse:after:connection', () => Object.assign(window, { deskStreamOpen: true }), true),
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sites?.close();
  identityProvider?.close();
});

describe('the regional desk in a browser', () => {
  it('shows the front door to anyone, without any tenant data', async () => {
    await page.goto(`${cp.url}/`);
    const front = await text();
    expect(front).toContain('Regionaal loket vervolgzorg');
    expect(front).toContain(zcc.name);
    expect(front).not.toContain(vvt.name);
    expect(await page.$$eval('a', (links) => links.map((link) => link.getAttribute('href')))).toEqual(
      expect.arrayContaining(['/fhir/metadata', '/fhir/stu3/metadata', '/healthz', '/metrics', '/desk/sign-in']),
    );
    expect(await axeViolations()).toEqual([]);
    await screenshot('desk-front-door.png');
  });

  it('signs a coordinator in through the OpenID provider and shows the board', async () => {
    await Promise.all([page.waitForNavigation(), page.click('a[href="/desk/sign-in"]')]);
    await page.type('input[name="login"]', SUBJECT);
    await page.type('input[name="password"]', 'any');
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    expect(new URL(page.url()).pathname).toBe('/desk');
    await page.waitForFunction((name) => document.body.innerText.includes(name), { timeout: 10_000 }, vvt.name);
    const board = await text();
    expect(board).toContain('Coördinator Rijnmond');
    expect(board).toMatch(/Zorggroep Maas\s+rijnmond\s+3011 AB\s+3\s+10/);
    expect(await axeViolations()).toEqual([]);
  }, 30_000);

  it('shows a new count of the provider within 2 s, pushed to the open page', async () => {
    await page.waitForFunction(() => (window as unknown as { deskStreamOpen?: boolean }).deskStreamOpen === true, { timeout: 10_000 });
    await page.evaluate(() => document.body.setAttribute('data-before-update', 'yes'));
    const shownBefore = await page.$eval('#board-status time', (time) => time.getAttribute('datetime'));
    const posted = await fhirCall(provider.url, providerEhr, 'POST', '/fhir/MeasureReport', report(2, 10));
    expect(posted.status).toBe(201);
    await page.waitForFunction(
      (name) => Array.from(document.querySelectorAll('#board tr')).some((row) => row.textContent?.includes(name) && row.querySelector('td.num')?.textContent?.trim() === '2'),
      { timeout: 2000 },
      vvt.name,
    );
    // the status line (an aria-live region) tells the update, kept in place for screen readers
    await page.waitForFunction((before) => document.querySelector('#board-status time')?.getAttribute('datetime') !== before, { timeout: 1000 }, shownBefore);
    expect(await page.$eval('#board-status', (status) => status.getAttribute('aria-live'))).toBe('polite');
    // the same page, not a reload
    expect(await page.evaluate(() => document.body.getAttribute('data-before-update'))).toBe('yes');
    await screenshot('desk-board.png');
  }, 30_000);

  it('connects the board\'s live stream even when the SSE extension arrives after htmx is ready', async () => {
    const slow = await browser.newPage();
    try {
      await slow.evaluateOnNewDocument(() =>
        document.addEventListener('htmx:sse:after:connection', () => Object.assign(window, { deskStreamOpen: true }), true),
      );
      await slow.setRequestInterception(true);
      slow.on('request', (request) => {
        if (request.url().endsWith('/desk/assets/hx-sse.js')) setTimeout(() => void request.continue(), 1000);
        else void request.continue();
      });
      await slow.goto(`${cp.url}/desk`);
      await slow.waitForFunction(() => (window as unknown as { deskStreamOpen?: boolean }).deskStreamOpen === true, { timeout: 10_000 });
    } finally {
      await slow.close();
    }
  }, 30_000);

  it('fits a tablet held upright without scrolling sideways', async () => {
    await page.setViewport({ width: 768, height: 1024 });
    try {
      await page.reload();
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
      expect(await axeViolations()).toEqual([]);
    } finally {
      await page.setViewport({ width: 1280, height: 800 });
    }
  }, 30_000);

  it('finds a place with the match search', async () => {
    await Promise.all([page.waitForNavigation(), page.click('a[href="/desk/match"]')]);
    await page.select('#m-care-type', 'elv-hoog');
    await page.type('#m-postcode', '3012');
    await Promise.all([page.waitForNavigation(), page.click('main form button[type="submit"]')]);
    const results = await page.$eval('#results', (section) => (section as HTMLElement).innerText);
    expect(results).toContain(vvt.name);
    expect(results).toContain(`URA ${vvt.ura}`);
    expect(results).toContain(`${provider.url}/eoverdracht/notification`);
    expect(await axeViolations()).toEqual([]);
  }, 30_000);

  it('opens the chart of availability over the last days', async () => {
    await Promise.all([page.waitForNavigation(), page.click('a[href="/desk/chart"]')]);
    await page.waitForFunction(() => (window as unknown as { deskChart?: unknown }).deskChart !== undefined, { timeout: 10_000 });
    const datasets = await page.evaluate(() => (window as unknown as { deskChart: { data: { datasets: { data: (number | null)[] }[] } } }).deskChart.data.datasets.map((set) => set.data.at(-1)));
    expect(datasets).toEqual([2]);
    expect(await axeViolations()).toEqual([]);
  }, 30_000);

  it('never shows what the egress allowlist keeps at the provider', async () => {
    for (const pathname of ['/desk', '/desk/match?care-type=elv-hoog&postcode=3012', '/desk/chart']) {
      await page.goto(`${cp.url}${pathname}`);
      expect(await page.content()).not.toContain(MARK);
    }
  }, 30_000);

  it('switches to English', async () => {
    await Promise.all([page.waitForNavigation(), page.click('a[hreflang="en"]')]);
    expect(await text()).toContain('Free places per care type');
    await Promise.all([page.waitForNavigation(), page.click('a[hreflang="nl"]')]);
  }, 30_000);

  it('signs out', async () => {
    await page.goto(`${cp.url}/desk`);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/desk/sign-out"] button')]);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.goto(`${cp.url}/desk`);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await text()).not.toContain(vvt.name);
  }, 30_000);

  it('returns to the page the link named, with its filter, after signing in', async () => {
    const context = await browser.createBrowserContext();
    try {
      const other = await context.newPage();
      await other.goto(`${cp.url}/desk?region=rijnmond`);
      expect(new URL(other.url()).pathname).toBe('/');
      await Promise.all([other.waitForNavigation(), other.click('a[href^="/desk/sign-in"]')]);
      await other.type('input[name="login"]', SUBJECT);
      await other.type('input[name="password"]', 'any');
      await Promise.all([other.waitForNavigation(), other.click('button[type="submit"]')]);
      await Promise.all([other.waitForNavigation(), other.click('button[type="submit"]')]);
      const back = new URL(other.url());
      expect(`${back.origin}${back.pathname}${back.search}`).toBe(`${cp.url}/desk?region=rijnmond`);
      expect(await other.$eval('#f-region', (field) => (field as HTMLSelectElement).value)).toBe('rijnmond');
    } finally {
      await context.close();
    }
  }, 30_000);

  it('lets in nobody the configuration does not map to an organisation', async () => {
    const context = await browser.createBrowserContext();
    try {
      const stranger = await context.newPage();
      await stranger.goto(`${cp.url}/`);
      await Promise.all([stranger.waitForNavigation(), stranger.click('a[href="/desk/sign-in"]')]);
      await stranger.type('input[name="login"]', 'someone-else');
      await stranger.type('input[name="password"]', 'any');
      await Promise.all([stranger.waitForNavigation(), stranger.click('button[type="submit"]')]);
      const answer = await Promise.all([stranger.waitForNavigation(), stranger.click('button[type="submit"]')]);
      expect(answer[0]?.status()).toBe(403);
      expect(await stranger.evaluate(() => document.body.innerText)).toContain('het loket kent u niet');
      await stranger.goto(`${cp.url}/desk`);
      expect(new URL(stranger.url()).pathname).toBe('/');
    } finally {
      await context.close();
    }
  }, 30_000);

  it('refuses a callback that no sign-in in this browser started', async () => {
    const answer = await fetch(`${cp.url}/desk/callback?code=stolen&state=guessed`, { redirect: 'manual', headers: { cookie: 'desk_sign_in=guessed' } });
    expect(answer.status).toBe(400);
    expect(answer.headers.getSetCookie().some((cookie) => cookie.startsWith('desk_session='))).toBe(false);
  });
});
