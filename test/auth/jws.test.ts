import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { importVerificationKey, type VerificationKey } from '../../src/auth/jwk.js';
import { TokenError, verifyJws } from '../../src/auth/jws.js';

/** The signature check's own rules, beyond what the Wycheproof vectors and the attack suite already cover. */
let privateKey: CryptoKey;
let key: VerificationKey;

const encoder = new TextEncoder();
const signed = (header: Record<string, unknown>, payload = '{"iss":"x"}', signer: CryptoKey = privateKey) =>
  new CompactSign(encoder.encode(payload)).setProtectedHeader({ alg: 'ES256', ...header }).sign(signer);
const refusal = (jws: string, verificationKey = key) =>
  verifyJws(jws, () => verificationKey).then(
    () => 'accepted',
    (error: unknown) => (error instanceof TokenError ? error.message : `unexpected ${String(error)}`),
  );

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  key = await importVerificationKey(await exportJWK(pair.publicKey));
});

describe('verifyJws', () => {
  it('accepts a well-formed ES256 JWS by the resolved key', async () => {
    const jws = await signed({});
    const verified = await verifyJws(jws, () => key);
    expect(new TextDecoder().decode(verified.payload)).toBe('{"iss":"x"}');
  });

  it('refuses a part spelled in non-canonical base64url (unused low bits set), even with the same bytes', async () => {
    const jws = await signed({});
    const signature = jws.split('.')[2]!;
    // 64 bytes take 86 characters: the last one carries 2 bits of data and 4 unused bits.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(signature.at(-1)!);
    const sibling = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last ^ 1]!;
    const spelledOtherwise = `${jws.slice(0, -1)}${sibling}`;
    expect(Buffer.from(spelledOtherwise.split('.')[2]!, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
    expect(await refusal(spelledOtherwise)).toBe('JWS part is not canonical base64url');
  });

  it('refuses a header that is not canonical base64url, not UTF-8 JSON, or not a JSON object', async () => {
    const [, payload, signature] = (await signed({})).split('.');
    const withHeader = (header: string) => `${header}.${payload}.${signature}`;
    const json = (text: string) => Buffer.from(text).toString('base64url');
    const header = json('{"alg":"ES256" }'); // 16 bytes: the last of 22 characters has 4 unused bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const spelledOtherwise = `${header.slice(0, -1)}${alphabet[alphabet.indexOf(header.at(-1)!) ^ 1]!}`;
    expect(Buffer.from(spelledOtherwise, 'base64url')).toEqual(Buffer.from(header, 'base64url'));
    expect(await refusal(withHeader(spelledOtherwise))).toBe('JWS part is not canonical base64url');
    expect(await refusal(withHeader(json('["ES256"]')))).toBe('malformed JWS header');
    expect(await refusal(withHeader(json('{"alg":')))).toBe('malformed JWS header');
    expect(await refusal(withHeader(Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')))).toBe('malformed JWS header');
    expect(await refusal(withHeader(json('{"alg":"ES256","kid":7}')))).toBe('header kid must be a string');
  });

  it('refuses any crit header extension, understood or not', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const critKey = await importVerificationKey(pair.publicKey.export({ format: 'jwk' }) as JWK);
    const withHeader = (header: object) => {
      const input = `${Buffer.from(JSON.stringify({ alg: 'ES256', ...header })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    expect(await refusal(withHeader({}), critKey)).toBe('accepted');
    expect(await refusal(withHeader({ crit: ['b64'], b64: true }), critKey)).toBe('crit header parameters are not supported');
    expect(await refusal(withHeader({ crit: ['exp'], exp: 1 }), critKey)).toBe('crit header parameters are not supported');
  });

  it('refuses an ECDSA signature in DER form (RFC 7518 wants R || S)', async () => {
    const jws = await signed({});
    const [header, payload] = jws.split('.');
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = sign('sha256', Buffer.from(`${header}.${payload}`), pair.privateKey).toString('base64url');
    const derKey = await importVerificationKey(pair.publicKey.export({ format: 'jwk' }) as JWK);
    expect(await refusal(`${header}.${payload}.${der}`, derKey)).toBe('signature verification failed');
  });

  it('lets an RSA key under 2048 bits verify nothing', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const short = await importVerificationKey(pair.publicKey.export({ format: 'jwk' }) as JWK);
    expect(short.keys.size).toBe(0);
    const header = Buffer.from(JSON.stringify({ alg: 'PS256' })).toString('base64url');
    const payload = Buffer.from('{}').toString('base64url');
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: pair.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64url');
    expect(await refusal(`${header}.${payload}.${signature}`, short)).toMatch(/may not sign with PS256/);
  });
});
