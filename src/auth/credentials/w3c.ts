import { isObject } from '../../vocabulary/json.js';

/** A credential as W3C VCDM 1.1 writes it in JSON (a JWT VC decoded, or a JSON-LD-style object), after verification. */
export interface DecodedCredential {
  '@context': unknown[];
  type: string[];
  issuer: string;
  issuanceDate: string;
  expirationDate?: string;
  credentialSubject: Record<string, unknown>;
}

/** A credential's `type` as a list (VCDM allows a single string). */
export function credentialTypes(credential: Record<string, unknown>): string[] {
  const { type } = credential;
  if (typeof type === 'string') return [type];
  return Array.isArray(type) ? type.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** The id of a VCDM `issuer` (a string or an object with an id). */
export function issuerId(credential: Record<string, unknown>): string | undefined {
  const { issuer } = credential;
  if (typeof issuer === 'string') return issuer;
  return isObject(issuer) && typeof issuer.id === 'string' ? issuer.id : undefined;
}

const numeric = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** A JWT VC's claims as the W3C credential they encode (VCDM 1.1 §6.3.1: `iss`, `sub`, `nbf`, `exp` over `vc`). */
export function credentialOfJwt(claims: Record<string, unknown>, now: number): DecodedCredential {
  const vc = isObject(claims.vc) ? claims.vc : {};
  const subject = isObject(vc.credentialSubject) ? vc.credentialSubject : {};
  const notBefore = numeric(claims.nbf) ?? numeric(claims.iat) ?? now;
  const expiresAt = numeric(claims.exp);
  return {
    '@context': Array.isArray(vc['@context']) ? vc['@context'] : ['https://www.w3.org/2018/credentials/v1'],
    type: credentialTypes(vc),
    issuer: String(claims.iss),
    issuanceDate: new Date(notBefore * 1000).toISOString(),
    ...(expiresAt !== undefined ? { expirationDate: new Date(expiresAt * 1000).toISOString() } : {}),
    credentialSubject: { ...subject, ...(typeof claims.sub === 'string' ? { id: claims.sub } : {}) },
  };
}
