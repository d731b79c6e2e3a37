import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { EhrClient, GatewayConfig, KeySource } from '../config/config.js';
import { isObject } from '../vocabulary/json.js';
import { publicJwk, thumbprint } from './jwk.js';

/**
 * Key material on disk. Production: every configured key file must exist. Development mode: a missing file is
 * generated once (ES256, or AES-256-GCM for the Dezi id_tokens at rest) so `npm start` works on a fresh clone; `wx`
 * makes concurrent first starts agree.
 */
type Mode = GatewayConfig['mode'];

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function writeOnce(file: string, content: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

export async function generatePrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), alg: 'ES256' };
}

function describeFailure(what: string, file: string, error: unknown): Error {
  return new Error(`cannot read ${what} '${file}': ${(error as Error).message}`);
}

/** A hosted organisation's private JWK from its key source (file or inline). */
export async function loadPrivateJwk(source: KeySource, mode: Mode): Promise<JWK> {
  if (source.jwk) return source.jwk as JWK;
  const file = source.file as string;
  if (mode === 'development' && !existsSync(file)) writeOnce(file, await generatePrivateJwk());
  try {
    return readJson(file) as JWK;
  } catch (error) {
    throw describeFailure('private key file', file, error);
  }
}

/** Where the private key of a development EHR client lives: next to its public JWKS. */
export function ehrPrivateKeyFile(client: EhrClient): string {
  if (!client.jwksFile) throw new Error(`EHR client '${client.clientId}' has no jwksFile`);
  return path.join(path.dirname(client.jwksFile), `${client.clientId}.private.jwk.json`);
}

/** Generates the pair; the public JWKS is derived from the private key file as it ends up on disk (first writer wins). */
async function generateEhrKeyPair(client: EhrClient): Promise<void> {
  const generated = await generatePrivateJwk();
  const privateFile = ehrPrivateKeyFile(client);
  writeOnce(privateFile, { ...generated, kid: `${client.clientId}#${await thumbprint(generated)}` });
  const privateJwk = readJson(privateFile) as JWK;
  writeOnce(client.jwksFile as string, { keys: [{ ...publicJwk(privateJwk), kid: privateJwk.kid, alg: privateJwk.alg, use: 'sig' }] });
}

/** An EHR client's public JWKS (inline or file; generated with its private key in development mode). */
export async function loadEhrJwks(client: EhrClient, mode: Mode): Promise<JWK[]> {
  if (client.jwks) return client.jwks.keys as JWK[];
  const file = client.jwksFile;
  if (!file) throw new Error(`EHR client '${client.clientId}' has neither jwks nor jwksFile`);
  if (mode === 'development' && !existsSync(file)) await generateEhrKeyPair(client);
  try {
    const jwks: unknown = readJson(file);
    if (!isObject(jwks) || !Array.isArray(jwks.keys)) throw new Error('no "keys" array');
    return jwks.keys;
  } catch (error) {
    throw describeFailure('JWKS file', file, error);
  }
}

/** The length of an AES-256 key. */
const AES_256_KEY_BYTES = 32;

/** A new AES-256-GCM key as a JWK (RFC 7518 §6.4, §5.3): `{kty: oct, alg: A256GCM, k}`. */
export function generateEncryptionJwk(): JWK {
  return { kty: 'oct', alg: 'A256GCM', k: randomBytes(AES_256_KEY_BYTES).toString('base64url') };
}

/** The AES-256-GCM key in `file` (a JWK `{kty: oct, alg: A256GCM, k}`; generated in development mode when missing). */
export function loadEncryptionKey(file: string, mode: Mode): Buffer {
  if (mode === 'development' && !existsSync(file)) writeOnce(file, generateEncryptionJwk());
  let jwk: unknown;
  try {
    jwk = readJson(file);
  } catch (error) {
    throw describeFailure('encryption key file', file, error);
  }
  const key = isObject(jwk) && jwk.kty === 'oct' && jwk.alg === 'A256GCM' && typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url') : undefined;
  if (key?.length !== AES_256_KEY_BYTES) throw new Error(`encryption key file '${file}' holds no AES-256-GCM key (a JWK {kty: oct, alg: A256GCM, k: 32 bytes})`);
  return key;
}
