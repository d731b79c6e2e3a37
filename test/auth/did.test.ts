import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { assertionKeys, didDocument, didWebUrl, organizationDid } from '../../src/auth/did.js';
import { createTrustRegistry } from '../../src/auth/trust.js';
import { parseConfig } from '../../src/config/config.js';
import { party, publicJwks, type Party } from '../harness/parties.js';

describe('did:web', () => {
  it('names hosted organisations under the public base URL', () => {
    expect(organizationDid('demo', 'http://localhost:8080')).toBe('did:web:localhost%3A8080:org:demo');
    expect(organizationDid('vvt 1', 'https://gw.example/vvt')).toBe('did:web:gw.example:vvt:org:vvt%201');
    expect(organizationDid('did:web:other.example:org:9', 'https://gw.example')).toBe('did:web:other.example:org:9');
  });

  it.each([
    ['did:web:gw.example:org:1', 'https://gw.example/org/1/did.json'],
    ['did:web:gw.example', 'https://gw.example/.well-known/did.json'],
    ['did:web:localhost%3A8080:org:demo', 'http://localhost:8080/org/demo/did.json'],
    ['did:web:127.0.0.1%3A9000:org:a', 'http://127.0.0.1:9000/org/a/did.json'],
    ['did:web:gw.example%3A8443:a:b', 'https://gw.example:8443/a/b/did.json'],
  ])('resolves %s at %s (plain http only on loopback)', (did, url) => {
    expect(didWebUrl(did).href).toBe(url);
  });

  it.each(['did:web:', 'did:web:a%2Fb', 'did:web:x::y', 'did:web:user%40host', 'did:key:abc', 'did:web:host:a%2F..'])(
    'refuses the malformed %s',
    (did) => {
      expect(() => didWebUrl(did)).toThrow();
    },
  );

  it('publishes every key as an assertion method and reads them back by fragment', async () => {
    const [older, newer] = await Promise.all([party('org'), party('org')]);
    const did = 'did:web:gw.example:org:org';
    const document = didDocument(did, publicJwks(older!, newer!).keys);
    expect(document.verificationMethod.map((method) => method.publicKeyJwk)).not.toContainEqual(expect.objectContaining({ d: expect.anything() }));
    const keys = assertionKeys(document, did);
    expect([...keys.keys()]).toEqual([older!.kid.split('#')[1], newer!.kid.split('#')[1]]);
    expect(() => assertionKeys(document, 'did:web:evil.example')).toThrow(/not about/);
  });
});

describe('trusted organisation by did:web', () => {
  let server: Server;
  let served: Party[] = [];
  let fetches = 0;
  let did: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      fetches += 1;
      if (req.url !== '/org/remote/did.json') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(didDocument(did, publicJwks(...served).keys)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    did = `did:web:127.0.0.1%3A${(server.address() as AddressInfo).port}:org:remote`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('resolves its keys, and picks up a rotated key after the refresh interval but not before', async () => {
    const [first, second] = await Promise.all([party('remote'), party('remote')]);
    served = [first!];
    let time = 1_000_000;
    const config = parseConfig({
      publicBaseUrl: 'https://gw.test',
      organizations: [{ id: 'host', name: 'Host', roles: ['receiver'] }],
      trusted: [{ id: 'remote', name: 'Remote', didWeb: did }],
    });
    const registry = await createTrustRegistry({ ...config, organizations: [] }, { clock: () => time });
    const fragment = (p: Party) => p.kid.split('#')[1]!;

    expect(await registry.organizationKey('remote', fragment(first!))).toBeDefined();
    served = [first!, second!];
    const before = fetches;
    expect(await registry.organizationKey('remote', fragment(second!))).toBeUndefined();
    expect(fetches).toBe(before);
    time += 31_000;
    expect(await registry.organizationKey('remote', fragment(second!))).toBeDefined();
    expect(await registry.organizationKey('remote', fragment(first!))).toBeDefined();
    expect(fetches).toBe(before + 1);
  });
});
