import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseConfig } from '../../src/config/config.js';
import type { Store } from '../../src/store/repository.js';
import { createCapacity } from '../../src/capacity/index.js';

const base = {
  publicBaseUrl: 'https://zcc.example',
  organizations: [{ id: 'zcc', name: 'ZCC', ura: '90000001', roles: ['coordination-point'] }],
};
const client = { remote: () => ({ read: () => Promise.reject(new Error('no calls out')), post: () => Promise.reject(new Error('no calls out')) }) };
const store = {} as Store;

describe('capacity settings in the gateway configuration', () => {
  it('reads staleness, debounce and snapshot schedule', () => {
    const config = parseConfig({ ...base, capacity: { staleAfterMinutes: 30, publishDebounceMs: 100, snapshotSchedule: '*/5 * * * *' } });
    expect(config.capacity).toEqual({ staleAfterMinutes: 30, publishDebounceMs: 100, snapshotSchedule: '*/5 * * * *' });
    expect(createCapacity({ config, store, client }).coordination.board('zcc').staleAfterMs).toBe(30 * 60_000);
  });

  it('names the field of a bad setting', () => {
    expect(() => parseConfig({ ...base, capacity: { staleAfterMinutes: 0 } })).toThrow(/capacity\.staleAfterMinutes/);
    expect(() => parseConfig({ ...base, capacity: { tariff: 1 } })).toThrow(/capacity.*tariff/);
    expect(() => createCapacity({ config: parseConfig({ ...base, capacity: { snapshotSchedule: 'every hour' } }), store, client })).toThrow(ConfigError);
    expect(() => createCapacity({ config: parseConfig({ ...base, capacity: { snapshotSchedule: 'every hour' } }), store, client })).toThrow(/capacity\.snapshotSchedule/);
  });

  it("reads a provider's AGB from its trusted entry, and names a malformed one", () => {
    const provider = { id: 'vvt', name: 'Zorggroep Maas', ura: '10000001', jwks: { keys: [] } };
    expect(parseConfig({ ...base, trusted: [{ ...provider, agb: '01234567' }] }).trusted[0]).toMatchObject({ agb: '01234567' });
    expect(() => parseConfig({ ...base, trusted: [{ ...provider, agb: '1234' }] })).toThrow(/trusted.*0.*agb/);
  });
});
