import { describe, expect, it } from '@jest/globals';
import { createDeziSealer, SealedDeziRefused } from '../../src/auth/credentials/sealedDezi.js';
import { generateEncryptionJwk } from '../../src/auth/keyFiles.js';

/** The Dezi id_token at rest: AES-256-GCM, bound to tenant, person and expiry (auth/credentials/sealedDezi.ts). */
const newKey = () => Buffer.from(String(generateEncryptionJwk().k), 'base64url');
const ID_TOKEN = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImRlemktMSJ9.eyJkZXppX251bW1lciI6IjkwMDAwMDEyMyJ9.c2lnbmF0dXJl';
const owner = { tenant: 'vvt-a', person: '900000123' };

describe('a sealed Dezi id_token', () => {
  it('opens for its tenant and person with the key it was sealed with, and holds no text of the token', () => {
    const sealer = createDeziSealer(newKey());
    const sealed = sealer.seal(ID_TOKEN, owner, 1769940000);
    expect(sealed.exp).toBe(1769940000);
    for (const part of ID_TOKEN.split('.')) expect(sealed.sealed).not.toContain(part);
    expect(sealer.open(sealed, owner)).toBe(ID_TOKEN);
  });

  it('gets a fresh IV each time: the same token sealed twice differs', () => {
    const sealer = createDeziSealer(newKey());
    expect(sealer.seal(ID_TOKEN, owner, 1).sealed).not.toBe(sealer.seal(ID_TOKEN, owner, 1).sealed);
  });

  it.each([
    ['another key', createDeziSealer(newKey()), owner],
    ['another tenant', undefined, { ...owner, tenant: 'vvt-b' }],
    ['another person', undefined, { ...owner, person: '900000999' }],
  ])('does not open with %s', (_case, other, openedFor) => {
    const sealer = createDeziSealer(newKey());
    const sealed = sealer.seal(ID_TOKEN, owner, 1);
    expect(() => (other ?? sealer).open(sealed, openedFor)).toThrow(SealedDeziRefused);
  });

  it('does not open when the value or its expiry was changed, or it is cut short', () => {
    const sealer = createDeziSealer(newKey());
    const sealed = sealer.seal(ID_TOKEN, owner, 1);
    const bytes = Buffer.from(sealed.sealed, 'base64url');
    bytes[0]! ^= 1;
    for (const changed of [{ ...sealed, sealed: bytes.toString('base64url') }, { ...sealed, exp: 2 }, { ...sealed, sealed: sealed.sealed.slice(0, 20) }]) {
      expect(() => sealer.open(changed, owner)).toThrow(/does not open/);
    }
  });
});
