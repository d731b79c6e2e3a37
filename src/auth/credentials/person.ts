import { isObject } from '../../vocabulary/json.js';
import type { VerificationKey } from '../jwk.js';
import type { SealedDezi } from '../../fhir/principal.js';
import { claimsOf, numericDate, TokenError, verifyJws } from '../jws.js';
import { CLOCK_SKEW_SECONDS } from '../rules.js';
import { credentialTypes, issuerId, type DecodedCredential } from './w3c.js';

/**
 * The person behind a token request, in one of two credentials the holder's presentation carries:
 * - `NutsEmployeeCredential`, self-attested by the organisation (nuts-node: issuer = the holder's DID, no proof of
 *   its own; the presentation's signature covers it): `credentialSubject.{identifier, name, roleName}`;
 * - `DeziUserCredential` (nuts-node project-gf `vcr/credential/dezi.go`): the Dezi id_token in `proof.jwt`, verified
 *   against the configured Dezi key set; the person and the organisation (`abonnee_nummer`, a URA) come from the
 *   verified token only, never from the credential's own fields.
 */
export interface Person {
  identifier: string;
  name: string;
  role?: string;
}

export interface VerifiedPersonCredential {
  person: Person;
  /** The URA the person works for, when the credential says (Dezi). */
  ura?: string;
  expiresAt?: number;
  /** What Presentation Exchange matches and introspection claims are read from. */
  credential: DecodedCredential;
}

export const EMPLOYEE_CREDENTIAL = 'NutsEmployeeCredential';
export const DEZI_USER_CREDENTIAL = 'DeziUserCredential';
export const DEZI_PROOF_TYPES = ['DeziIDJWT07', 'DeziIDJWT2024'];

/** The Dezi key set: keys by kid (configuration `nuts.dezi`). */
export interface DeziTrust {
  keys: Map<string, VerificationKey>;
  /** Accepted `iss` values of Dezi id_tokens. */
  issuers: string[];
}

const text = (value: unknown, max = 200) => (typeof value === 'string' && value.trim() !== '' && value.length <= max ? value.trim() : undefined);
const CONTEXT = ['https://www.w3.org/2018/credentials/v1', 'https://nuts.nl/credentials/2024'];

export function isPersonCredential(entry: unknown): boolean {
  if (!isObject(entry)) return false;
  const types = credentialTypes(entry);
  return types.includes(EMPLOYEE_CREDENTIAL) || types.includes(DEZI_USER_CREDENTIAL);
}

function employee(entry: Record<string, unknown>, holder: string, now: number): VerifiedPersonCredential {
  if (issuerId(entry) !== holder) throw new TokenError('a NutsEmployeeCredential must be self-attested (issuer = the presentation signer)');
  const subject = entry.credentialSubject;
  if (!isObject(subject) || (subject.id !== undefined && subject.id !== holder)) throw new TokenError('NutsEmployeeCredential subject must be the presentation signer');
  const identifier = text(subject.identifier);
  const name = text(subject.name);
  const role = text(subject.roleName);
  if (!identifier || !name) throw new TokenError('NutsEmployeeCredential needs credentialSubject.identifier and name');
  const person = { identifier, name, ...(role ? { role } : {}) };
  return { person, credential: employeeCredential(holder, person, now) };
}

/** The self-attested NutsEmployeeCredential of `holder` (its DID) for a person, as a presentation carries it (no proof of its own). */
export function employeeCredential(holder: string, person: Person, now: number): DecodedCredential {
  return {
    '@context': CONTEXT,
    type: ['VerifiableCredential', EMPLOYEE_CREDENTIAL],
    issuer: holder,
    issuanceDate: new Date(now * 1000).toISOString(),
    credentialSubject: { id: holder, identifier: person.identifier, name: person.name, ...(person.role ? { roleName: person.role } : {}) },
  };
}

async function dezi(entry: Record<string, unknown>, trust: DeziTrust | undefined, now: number): Promise<VerifiedPersonCredential> {
  if (!trust) throw new TokenError('DeziUserCredentials are not accepted here (no Dezi key set is configured)');
  const proof = entry.proof;
  if (!isObject(proof) || !DEZI_PROOF_TYPES.includes(String(proof.type)) || typeof proof.jwt !== 'string') {
    throw new TokenError(`a DeziUserCredential needs a proof of type ${DEZI_PROOF_TYPES.join(' or ')} with the id_token`);
  }
  return verifyDeziIdToken(proof.jwt, trust, now);
}

/**
 * Verifies a Dezi id_token (signature by a key of the set, issuer, validity) and reads what it declares; throws
 * TokenError otherwise. Used for a DeziUserCredential's proof and for the id_token a tenant's EHR passes.
 */
export async function verifyDeziIdToken(idToken: string, trust: DeziTrust, now: number): Promise<VerifiedPersonCredential & { expiresAt: number }> {
  const { payload } = await verifyJws(idToken, (header) => (header.kid ? trust.keys.get(header.kid) : undefined));
  const claims = claimsOf(payload);
  if (!trust.issuers.includes(String(claims.iss))) throw new TokenError('the Dezi id_token has an unknown issuer');
  const exp = numericDate(claims, 'exp', 'Dezi exp');
  const nbf = numericDate(claims, 'nbf', 'Dezi nbf') ?? numericDate(claims, 'iat', 'Dezi iat');
  if (exp === undefined || exp <= now - CLOCK_SKEW_SECONDS) throw new TokenError('the Dezi id_token has expired');
  if (nbf !== undefined && nbf > now + CLOCK_SKEW_SECONDS) throw new TokenError('the Dezi id_token is not valid yet');
  return { ...deziDeclaration(claims, now), expiresAt: exp };
}

/**
 * What a Dezi id_token's claims (v0.7: `abonnee_nummer`, `dezi_nummer`, the name parts, `rol_code`) declare: the
 * person, their organisation's URA and the credential Presentation Exchange matches. The server reads them after
 * verifying the token; the client (auth/oauth2/wallet.ts) reads the token its tenant's EHR handed over to match it.
 */
export function deziDeclaration(claims: Record<string, unknown>, now: number): VerifiedPersonCredential {
  const exp = numericDate(claims, 'exp', 'Dezi exp');
  const nbf = numericDate(claims, 'nbf', 'Dezi nbf') ?? numericDate(claims, 'iat', 'Dezi iat');
  const ura = text(claims.abonnee_nummer, 20);
  const identifier = text(claims.dezi_nummer, 50);
  const name = [claims.voorletters, claims.voorvoegsel, claims.achternaam].map((part) => text(part)).filter(Boolean).join(' ');
  const role = text(claims.rol_code, 50);
  if (!ura || !identifier || !name) throw new TokenError('the Dezi id_token needs abonnee_nummer, dezi_nummer and a name');
  return {
    person: { identifier, name, ...(role ? { role } : {}) },
    ura,
    ...(exp !== undefined ? { expiresAt: exp } : {}),
    credential: {
      '@context': CONTEXT,
      type: ['VerifiableCredential', DEZI_USER_CREDENTIAL],
      issuer: String(claims.iss),
      issuanceDate: new Date((nbf ?? now) * 1000).toISOString(),
      ...(exp !== undefined ? { expirationDate: new Date(exp * 1000).toISOString() } : {}),
      credentialSubject: {
        identifier: ura,
        name,
        employee: { identifier, ...(role ? { role } : {}), ...(text(claims.rol_naam) ? { role_name: text(claims.rol_naam) } : {}) },
      },
    },
  };
}

/** The person without their Dezi id_token once it has expired (at `now`, seconds): it opens nothing any more. */
export function withoutExpiredDezi<P extends { dezi?: SealedDezi }>(person: P, now: number): P {
  return person.dezi && person.dezi.exp <= now ? (withoutDezi(person) as P) : person;
}

/** The person without their Dezi id_token: a bearer credential, neither shown nor kept where it is not needed. */
export function withoutDezi<P extends { dezi?: SealedDezi }>(person: P): Omit<P, 'dezi'> {
  const { dezi: _dezi, ...rest } = person;
  return rest;
}

export function verifyPersonCredential(entry: Record<string, unknown>, holder: string, dezi_: DeziTrust | undefined, now: number): Promise<VerifiedPersonCredential> {
  return credentialTypes(entry).includes(DEZI_USER_CREDENTIAL) ? dezi(entry, dezi_, now) : Promise.resolve(employee(entry, holder, now));
}
