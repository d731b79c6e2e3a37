import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { DirectoryCounterparties } from '../../src/directory/counterparties.js';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from '../../src/directory/payload-types.js';
import { localId, QUERY_DIRECTORY_SCOPE } from '../../src/directory/query-directory.js';
import { UpdateClient } from '../../src/directory/update-client.js';
import { parseSearchRequest } from '../../src/fhir/search/parse.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';

/**
 * A two-level sync: a root directory names two organisation directories (stand-in servers); the update client follows
 * them into the local query directory through paging, updates, deletes, duplicates and every kind of invalid entry,
 * and a second sync fetches only what changed.
 */
const URA_A = '10000001';
const URA_B = '10000002';
let directories: McsdDirectories;
let store: Store;
let dataDir: string;
let counterparties: DirectoryCounterparties;
let client: UpdateClient;
let warnings: string[];

const payload = (code: string) => [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code }] }];
const organization = (id: string, ura: string | undefined, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Organization',
  id,
  ...(ura ? { identifier: [{ system: URA_SYSTEM, value: ura }] } : {}),
  name: `Organisation ${id}`,
  ...extra,
});
const endpoint = (id: string, address: string, code: string) => ({
  resourceType: 'Endpoint',
  id,
  status: 'active',
  connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
  payloadType: payload(code),
  address,
});

beforeEach(async () => {
  directories = await new McsdDirectories().start();
  dataDir = temporaryFolder('mcsd-test-');
  store = await openStore({ dataDir });
  counterparties = new DirectoryCounterparties();
  warnings = [];
  client = new UpdateClient({
    roots: [directories.base('root')],
    store,
    counterparties,
    pageSize: 2,
    onWarning: (_base, warning) => warnings.push(warning),
  });
});
afterEach(async () => {
  await directories.close();
  await store.close();
  removeFolder(dataDir);
});

function fillRoot(): void {
  directories.put('root', endpoint('dir-a', directories.base('org-a'), PAYLOAD_TYPES.adminDirectory));
  directories.put('root', endpoint('dir-b', directories.base('org-b'), PAYLOAD_TYPES.adminDirectory));
  directories.put('root', endpoint('dir-evil', 'file:///etc/passwd', PAYLOAD_TYPES.adminDirectory));
  directories.put('root', endpoint('unreferenced', 'https://directory.example/fhir', PAYLOAD_TYPES.adminDirectory));
  directories.put('root', { resourceType: 'Something-else', id: 'x' }, { inHistoryOf: 'Endpoint' });
  directories.put('root', organization('lrza-a', URA_A, { endpoint: [{ reference: 'Endpoint/dir-a' }] }));
  directories.put('root', organization('lrza-b', URA_B, { endpoint: [{ reference: 'Endpoint/dir-b' }] }));
  directories.put('root', organization('lrza-evil', '10000009', { endpoint: [{ reference: 'Endpoint/dir-evil' }] }));
}

function fillOrganizationA(): void {
  directories.put('org-a', endpoint('notify', 'https://a.example/notification', PAYLOAD_TYPES.twiinNotification));
  directories.put('org-a', endpoint('fhir', 'https://a.example/fhir/stu3', PAYLOAD_TYPES.eOverdrachtServer));
  directories.put('org-a', endpoint('oauth', 'https://a.example/oauth2/a', PAYLOAD_TYPES.nutsOAuth));
  directories.put('org-a', endpoint('oauth-rfc003', 'https://a.example/oauth2/token', PAYLOAD_TYPES.rfc003Token));
  directories.put('org-a', organization('a', URA_A, { endpoint: ['notify', 'fhir', 'oauth', 'oauth-rfc003'].map((id) => ({ reference: `Endpoint/${id}` })) }));
  directories.put('org-a', organization('a-ward', undefined, { partOf: { reference: 'Organization/a' } }));
  directories.put('org-a', { resourceType: 'HealthcareService', id: 'elv', providedBy: { reference: 'Organization/a' }, name: 'ELV hoog' });
  directories.put('org-a', { resourceType: 'Location', id: 'site', managingOrganization: { reference: 'Organization/a-ward' }, name: 'Locatie Zuid' });
}

const query = async (type: string, parameters: Record<string, string> = {}) =>
  (await store.resources.search(QUERY_DIRECTORY_SCOPE, parseSearchRequest('r4', type, { _count: '100', ...parameters }))).resources;

describe('a two-level sync', () => {
  it('discovers the organisation directories from the root and copies their valid entries, each with its source', async () => {
    fillRoot();
    fillOrganizationA();
    directories.put('org-b', organization('b', URA_B));
    const status = await client.sync();

    expect(status.map((directory) => [directory.base, directory.result]).sort()).toEqual([
      [directories.base('org-a'), 'ok'],
      [directories.base('org-b'), 'ok'],
      [directories.base('root'), 'ok'],
    ]);
    expect(status.find((directory) => directory.base === directories.base('org-a'))!.uras).toEqual([URA_A]);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'Endpoint/dir-evil: invalid FHIR base URL (url=file:///etc/passwd)',
        'resource type Something-else not allowed (Something-else/x)',
        expect.stringContaining('Endpoint/unreferenced: endpoint must be referenced'),
      ]),
    );
    const organizations = await query('Organization');
    expect(organizations.map((resource) => resource.meta?.source).sort()).toEqual(
      [`${directories.base('org-a')}/Organization/a`, `${directories.base('org-a')}/Organization/a-ward`, `${directories.base('org-b')}/Organization/b`].sort(),
    );
    const [location] = await query('Location');
    expect(location).toMatchObject({
      id: localId(`${directories.base('org-a')}/Location/site`),
      managingOrganization: { reference: `Organization/${localId(`${directories.base('org-a')}/Organization/a-ward`)}` },
    });
    expect(await query('Endpoint')).toHaveLength(4);
    expect(counterparties.byUra(URA_A)!.endpoints).toEqual({
      notification: 'https://a.example/notification',
      fhir: 'https://a.example/fhir/stu3',
      authorizationServer: 'https://a.example/oauth2/a',
      oauth: 'https://a.example/oauth2/token',
    });
  });

  it('runs a round asked for while another runs once that one ends, so it sees what changed before it was asked', async () => {
    fillRoot();
    fillOrganizationA();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let readB!: () => void;
    const organizationBRead = new Promise<void>((resolve) => (readB = resolve));
    let first = true;
    const gated = new UpdateClient({
      roots: [directories.base('root')],
      store,
      counterparties,
      // The first read of org-b is answered as org-b was then, after the test has changed it and asked.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (first && String(input).startsWith(directories.base('org-b'))) {
          first = false;
          readB();
          await held;
        }
        return response;
      },
    });
    const scheduled = gated.sync();
    expect(gated.sync()).toBe(scheduled);
    await organizationBRead;
    directories.put('org-b', organization('b', URA_B));
    const asked = gated.sync({ ignoreBackoff: true });
    expect(gated.sync({ ignoreBackoff: true })).toBe(asked);
    release();
    await scheduled;
    expect((await query('Organization')).map((resource) => resource.meta?.source)).not.toContain(`${directories.base('org-b')}/Organization/b`);
    await asked;
    expect((await query('Organization')).map((resource) => resource.meta?.source)).toContain(`${directories.base('org-b')}/Organization/b`);
  });

  it('refuses each invalid entry of an organisation directory and keeps the rest', async () => {
    fillRoot();
    directories.put('org-a', organization('a', URA_A));
    directories.put('org-a', organization('foreign', URA_B));
    directories.put('org-a', organization('two-uras', undefined, { identifier: [{ system: URA_SYSTEM, value: URA_A }, { system: URA_SYSTEM, value: '10000003' }] }));
    directories.put('org-a', organization('orphan', undefined));
    directories.put('org-a', organization('loop-1', undefined, { partOf: { reference: 'Organization/loop-2' } }));
    directories.put('org-a', organization('loop-2', undefined, { partOf: { reference: 'Organization/loop-1' } }));
    directories.put('org-a', { resourceType: 'HealthcareService', id: 'no-provider', name: 'x' });
    directories.put('org-a', { resourceType: 'HealthcareService', id: 'foreign-provider', providedBy: { reference: 'Organization/foreign' } });
    directories.put('org-a', { resourceType: 'Location', id: 'no-manager', name: 'x' });
    directories.put('org-a', endpoint('stray', 'https://a.example/stray', PAYLOAD_TYPES.nutsOAuth));
    directories.put('org-a', endpoint('local-file', 'file:///etc/passwd', PAYLOAD_TYPES.nutsOAuth));
    directories.put('org-a', { resourceType: 'Patient', id: 'p' }, { inHistoryOf: 'Location' });
    directories.put('org-a', organization('no-request', URA_A), { withoutRequest: true });
    directories.put('org-b', organization('b', URA_B));
    await client.sync();

    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Organization\/foreign: URA 10000002 is not one this directory speaks for/),
        'Organization/two-uras: has 2 URA identifiers; an organisation has at most one',
        'Organization/orphan: has no URA and is part of no organisation',
        expect.stringMatching(/^Organization\/loop-1: partOf does not lead/),
        'HealthcareService/no-provider: providedBy is required',
        'HealthcareService/foreign-provider: providedBy is not an organisation of this directory',
        'Location/no-manager: managingOrganization is required',
        expect.stringMatching(/^Endpoint\/stray: endpoint must be referenced/),
        'Endpoint/local-file: invalid FHIR base URL (url=file:///etc/passwd)',
        expect.stringMatching(/^Skipping entry with no request/),
        'resource type Patient not allowed (Patient/p)',
      ]),
    );
    expect((await query('Organization')).map((resource) => resource.meta?.source).sort()).toEqual(
      [`${directories.base('org-a')}/Organization/a`, `${directories.base('org-b')}/Organization/b`].sort(),
    );
    expect(await query('HealthcareService')).toEqual([]);
    expect(await query('Endpoint')).toEqual([]);
  });

  it('follows pages, keeps the newest version of a duplicate, applies deletes, and fetches only what changed the second time', async () => {
    fillRoot();
    fillOrganizationA();
    directories.put('org-a', organization('a', URA_A, { name: 'Renamed twice', endpoint: [{ reference: 'Endpoint/notify' }] }));
    directories.put('org-b', organization('b', URA_B));
    directories.put('org-b', organization('b', URA_B, { name: 'B, version 2' }));
    directories.put('org-b', organization('b-gone', undefined, { partOf: { reference: 'Organization/b' } }));
    directories.delete('org-b', 'Organization', 'b-gone');
    await client.sync();

    const byName = async () => (await query('Organization')).map((resource) => resource.name).sort();
    expect(await byName()).toEqual(['Organisation a-ward', 'Renamed twice', 'B, version 2'].sort());
    expect(counterparties.byUra(URA_A)).toMatchObject({ endpoints: { notification: 'https://a.example/notification' }, notificationShape: 'twiin' });

    directories.resetCounts();
    directories.put('org-a', { resourceType: 'HealthcareService', id: 'elv', providedBy: { reference: 'Organization/a' }, name: 'ELV laag' });
    directories.delete('org-a', 'Location', 'site');
    const status = await client.sync();

    expect(directories.served.get('org-a')).toBe(2);
    expect(directories.served.get('org-b') ?? 0).toBe(0);
    expect(directories.served.get('root') ?? 0).toBe(0);
    expect(status.find((directory) => directory.base === directories.base('org-a'))!.counts).toEqual({ created: 0, updated: 1, deleted: 1, warnings: 0 });
    expect((await query('HealthcareService'))[0]).toMatchObject({ name: 'ELV laag' });
    expect(await query('Location')).toEqual([]);
  });

  it('empties a directory the root no longer names, and backs off a directory that fails', async () => {
    fillRoot();
    directories.put('org-a', organization('a', URA_A));
    directories.put('org-b', organization('b', URA_B));
    await client.sync();
    expect(await query('Organization')).toHaveLength(2);

    directories.delete('root', 'Endpoint', 'dir-b');
    directories.put('root', endpoint('dir-a', `${directories.url}/missing`, PAYLOAD_TYPES.adminDirectory));
    const status = await client.sync();
    expect(await query('Organization')).toEqual([]);
    const failed = status.find((directory) => directory.base === `${directories.url}/missing`)!;
    expect(failed).toMatchObject({ result: 'failed', failures: 1, error: expect.stringContaining('HTTP 404') });
    expect(Date.parse(failed.nextAttempt!)).toBeGreaterThan(Date.now());

    directories.resetCounts();
    await client.sync();
    expect(directories.requests).toBe(2);
  });
});
