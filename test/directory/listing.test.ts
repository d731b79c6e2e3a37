import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { applyChanges, directoryListing, localId } from '../../src/directory/query-directory.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';

/** What a `$match-capacity` candidate names of the query directory: the provider's Organization and its service of the care type. */
const BASE = 'https://vvt.example/mcsd/vvt';
let store: Store;
let dataDir: string;

beforeEach(async () => {
  dataDir = temporaryFolder('listing-test-');
  store = await openStore({ dataDir });
});
afterEach(async () => {
  await store.close();
  removeFolder(dataDir);
});

const service = (id: string, code: string) => ({
  resourceType: 'HealthcareService',
  id,
  name: `Dienst ${code}`,
  providedBy: { reference: 'Organization/org' },
  type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code }] }],
});

describe('directoryListing', () => {
  it('names the Organization with the URA and its HealthcareService of the care type, by the ids of their copies', async () => {
    await applyChanges(store, BASE, [
      { resourceType: 'Organization', id: 'org', method: 'POST', resource: { resourceType: 'Organization', id: 'org', name: 'VVT Een', identifier: [{ system: URA_SYSTEM, value: '22222222' }] } },
      { resourceType: 'HealthcareService', id: 'grz', method: 'POST', resource: service('grz', 'grz') },
      { resourceType: 'HealthcareService', id: 'elv', method: 'POST', resource: service('elv', 'elv-hoog') },
    ]);
    expect(await directoryListing(store, '22222222', CARE_TYPE_SYSTEM, 'elv-hoog')).toEqual({
      organization: { reference: `Organization/${localId(`${BASE}/Organization/org`)}`, display: 'VVT Een' },
      healthcareService: { reference: `HealthcareService/${localId(`${BASE}/HealthcareService/elv`)}`, display: 'Dienst elv-hoog' },
    });
    expect((await directoryListing(store, '22222222', CARE_TYPE_SYSTEM, 'wlz-crisis')).healthcareService).toBeUndefined();
    expect(await directoryListing(store, '99999999', CARE_TYPE_SYSTEM, 'elv-hoog')).toEqual({});
  });
});
