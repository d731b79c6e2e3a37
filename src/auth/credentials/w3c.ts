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
