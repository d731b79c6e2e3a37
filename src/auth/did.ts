import type { JWK } from 'jose';
import { isObject } from '../vocabulary/json.js';
import { publicJwk } from './jwk.js';

/**
 * did:web (https://w3c-ccg.github.io/did-method-web/): hosted organisations publish their keys as DID documents,
 * trusted organisations may be configured by their did:web instead of an inline JWKS.
 */
const DID_WEB = 'did:web:';

/** The DID of a hosted organisation: its id when that is a did:web, else `did:web:<host>[:<base path>]:org:<id>`. */
export function organizationDid(organizationId: string, publicBaseUrl: string): string {
  if (organizationId.startsWith(DID_WEB)) return organizationId;
  const base = new URL(publicBaseUrl);
  const segments = base.pathname.split('/').filter(Boolean);
  return [DID_WEB + encodeURIComponent(base.host), ...segments.map(encodeURIComponent), 'org', encodeURIComponent(organizationId)].join(':');
}

/** Where a did:web document lives; http only for loopback hosts (development and demo gateways). */
export function didWebUrl(did: string): URL {
  if (!did.startsWith(DID_WEB)) throw new Error(`'${did}' is not a did:web`);
  const [host, ...segments] = did.slice(DID_WEB.length).split(':').map(decodeURIComponent);
  if (!host || segments.some((segment) => segment === '' || segment.includes('/'))) throw new Error(`malformed did:web '${did}'`);
  const probe = new URL(`https://${host}`);
  if (probe.host !== host.toLowerCase() || probe.username || probe.pathname !== '/') throw new Error(`malformed did:web host in '${did}'`);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(probe.hostname);
  const folder = segments.length > 0 ? segments.map(encodeURIComponent).join('/') : '.well-known';
  return new URL(`${loopback ? 'http' : 'https'}://${host}/${folder}/did.json`);
}

export interface DidDocument {
  '@context': string[];
  id: string;
  verificationMethod: { id: string; type: 'JsonWebKey2020'; controller: string; publicKeyJwk: JWK }[];
  assertionMethod: string[];
  authentication: string[];
}

/** A DID document listing every verification key (JWK kid `<org>#<fragment>` → method `<did>#<fragment>`). */
export function didDocument(did: string, keys: JWK[]): DidDocument {
  const methods = keys.map((jwk) => {
    const fragment = String(jwk.kid).slice(String(jwk.kid).lastIndexOf('#') + 1);
    const publicKeyJwk = { ...publicJwk(jwk), ...(jwk.alg ? { alg: jwk.alg } : {}) };
    return { id: `${did}#${fragment}`, type: 'JsonWebKey2020' as const, controller: did, publicKeyJwk };
  });
  const ids = methods.map((method) => method.id);
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1'],
    id: did,
    verificationMethod: methods,
    assertionMethod: ids,
    authentication: ids,
  };
}

const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The assertion keys of a resolved DID document, by fragment; refuses a document about another DID. */
export function assertionKeys(document: unknown, did: string): Map<string, JWK> {
  if (!isObject(document) || document.id !== did) throw new Error(`DID document is not about '${did}'`);
  const assertion = new Set(listOf(document.assertionMethod).map((ref) => (typeof ref === 'string' ? ref : String(isObject(ref) ? ref.id : undefined))));
  const keys = new Map<string, JWK>();
  for (const method of listOf(document.verificationMethod).filter(isObject)) {
    const id = typeof method.id === 'string' && method.id.startsWith('#') ? did + method.id : method.id;
    if (typeof id !== 'string' || !id.startsWith(`${did}#`) || !isObject(method.publicKeyJwk)) continue;
    if (!assertion.has(id) && !assertion.has(id.slice(did.length))) continue;
    keys.set(id.slice(did.length + 1), method.publicKeyJwk);
  }
  return keys;
}
