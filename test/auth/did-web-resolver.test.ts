import { describe, expect, it } from '@jest/globals';
import { didDocument } from '../../src/auth/did.js';
import { createDidWebResolver, DID_CACHE_MS } from '../../src/auth/did/resolver.js';
import { isPrivateAddress } from '../../src/auth/transport.js';
import { party, publicJwks } from '../harness/parties.js';

const DID = 'did:web:hospital.example:iam:1';

async function servedDocument() {
  const key = await party('remote');
  const fragment = key.kid.split('#')[1]!;
  const calls: string[] = [];
  const fetch = (async (url: URL) => {
    calls.push(String(url));
    return new Response(JSON.stringify(didDocument(DID, publicJwks(key).keys)), { headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof globalThis.fetch;
  return { fragment, calls, fetch };
}

describe('did:web resolution of the DIDs requests name', () => {
  it.each(['10.1.2.3', '127.0.0.1', '169.254.169.254', '172.16.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '0.0.0.0'])(
    '%s is private',
    (address) => expect(isPrivateAddress(address)).toBe(true),
  );
  it.each(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:93.184.216.34'])('%s is public', (address) =>
    expect(isPrivateAddress(address)).toBe(false),
  );

  it('refuses a host that resolves to a private address in production, without fetching', async () => {
    const { fragment, calls, fetch } = await servedDocument();
    const resolve = createDidWebResolver({ mode: 'production', fetch, lookup: async () => ['93.184.216.34', '10.0.0.7'], privateAddresses: 'refuse' });
    expect(await resolve(DID, fragment)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('fetches a public host over https and caches the document for its TTL', async () => {
    const { fragment, calls, fetch } = await servedDocument();
    let time = 1_000_000;
    const resolve = createDidWebResolver({ mode: 'production', fetch, clock: () => time, lookup: async () => ['93.184.216.34'], privateAddresses: 'refuse' });
    expect(await resolve(DID, fragment)).toBeDefined();
    expect(calls).toEqual(['https://hospital.example/iam/1/did.json']);
    time += DID_CACHE_MS - 1;
    expect(await resolve(DID, fragment)).toBeDefined();
    expect(calls).toHaveLength(1);
    time += 2;
    expect(await resolve(DID, fragment)).toBeDefined();
    expect(calls).toHaveLength(2);
  });

  it('allows private addresses in development (two local gateways)', async () => {
    const { fragment, fetch } = await servedDocument();
    const resolve = createDidWebResolver({ mode: 'development', fetch, lookup: async () => ['10.0.0.7'], privateAddresses: 'allow' });
    expect(await resolve(DID, fragment)).toBeDefined();
  });
});
