import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { parseConfig } from '../../src/config/config.js';
import { verifyJws } from '../../src/auth/jws.js';
import { isSigningAlgorithm } from '../../src/auth/rules.js';
import { createTrustRegistry, type TrustRegistry } from '../../src/auth/trust.js';
import { fixtureFolder } from '../fixtures.js';

/**
 * Every Wycheproof JWS vector through the signature check the token endpoint uses (verifyJws), with the vector's
 * keys configured as a trusted organisation's JWKS (so the registry's key import rules apply too).
 */
const folder = fixtureFolder('jose/wycheproof');

interface Vector {
  tcId: number;
  comment: string;
  jws: unknown;
  result: 'valid' | 'invalid';
}
interface Group {
  comment: string;
  public?: Record<string, unknown>;
  private?: Record<string, unknown>;
  tests: Vector[];
}

const files = ['json_web_signature_test.json', 'json_web_key_test.json'];
const groups = files.flatMap((file) =>
  (JSON.parse(readFileSync(path.join(folder, file), 'utf8')) as { testGroups: Group[] }).testGroups.map((group) => ({ file, group })),
);
const vectors = groups.flatMap(({ file, group }) => group.tests.map((vector) => ({ file, group, vector })));

/** The group's key material as a trusted JWKS; undefined when our configuration would refuse it. */
async function registryFor(group: Group): Promise<TrustRegistry | undefined> {
  const material = group.public ?? group.private ?? {};
  const keys = Array.isArray(material.keys) ? material.keys : [material];
  const config = parseConfig({
    publicBaseUrl: 'https://gw.test',
    organizations: [{ id: 'host', name: 'Host', roles: ['receiver'] }],
    trusted: [{ id: 'wycheproof', name: 'Wycheproof', jwks: { keys } }],
  });
  return createTrustRegistry({ ...config, organizations: [] }).catch(() => undefined);
}

const registries = new Map<Group, Promise<TrustRegistry | undefined>>();
const registryOf = (group: Group) => registries.get(group) ?? registries.set(group, registryFor(group)).get(group)!;

async function accepts(group: Group, jws: unknown): Promise<boolean> {
  const registry = await registryOf(group);
  if (!registry) return false;
  return verifyJws(jws, (header) => registry.organizationKey('wycheproof', String(header.kid))).then(
    () => true,
    () => false,
  );
}

/**
 * Valid vectors we still refuse by policy: JSON serialisation or lenient base64url (compact and strict only), an
 * algorithm outside the allowlist, or a key bound to another algorithm.
 */
async function refusedByPolicy(group: Group, jws: unknown): Promise<boolean> {
  if (typeof jws !== 'string' || !/^[\w-]+\.[\w-]*\.[\w-]*$/.test(jws)) return true;
  const { alg, kid } = decodeProtectedHeader(jws);
  if (!isSigningAlgorithm(alg)) return true;
  const key = await (await registryOf(group))?.organizationKey('wycheproof', String(kid));
  return key === undefined || !key.keys.has(alg);
}

describe('Wycheproof JWS vectors', () => {
  const invalid = vectors.filter(({ vector }) => vector.result === 'invalid');
  const valid = vectors.filter(({ vector }) => vector.result === 'valid');

  it('covers the whole fixture set', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(355);
    expect(valid.length).toBeGreaterThan(0);
  });

  it.each(invalid)('refuses invalid $file #$vector.tcId ($group.comment: $vector.comment)', async ({ group, vector }) => {
    expect(await accepts(group, vector.jws)).toBe(false);
  });

  it('accepts every valid vector whose algorithm and key our policy allows, and no other', async () => {
    let accepted = 0;
    for (const { group, vector } of valid) {
      const expected = !(await refusedByPolicy(group, vector.jws));
      expect({ tcId: vector.tcId, accepted: await accepts(group, vector.jws) }).toEqual({ tcId: vector.tcId, accepted: expected });
      if (expected) accepted += 1;
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
