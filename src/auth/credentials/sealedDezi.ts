import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import type { SealedDezi } from '../../fhir/principal.js';

/** Whose Dezi id_token it is: the tenant whose EHR handed it over, and the person's identifier (the `dezi_nummer`). */
export interface DeziOwner {
  tenant: string;
  person: string;
}

/**
 * The Dezi id_token a tenant's EHR hands over, as the gateway keeps it (in the EHR's access token record, on an
 * inbound transfer): AES-256-GCM under the gateway's Dezi encryption key (`nuts.dezi.encryptionKeyFile`), a random
 * 96-bit IV per value, and as additional authenticated data what the value is (its purpose), the tenant it was handed
 * over to, the person it names and its expiry, so that a value moved to another tenant or person, or changed in any
 * way, does not open. Only the expiry is readable without the key: enough to stop sending an expired token. It is
 * opened where it is used only, to build the person's credential for a call (auth/oauth2/wallet.ts).
 */
export interface DeziSealer {
  seal(idToken: string, owner: DeziOwner, exp: number): SealedDezi;
  /** The id_token; throws SealedDeziRefused when the value does not open with this key for this owner. */
  open(value: SealedDezi, owner: DeziOwner): string;
}

/** A kept Dezi id_token that does not open: another key, another tenant or person, or a changed value. */
export class SealedDeziRefused extends GatewayError {
  static override readonly code = 'ERR_SEALED_DEZI_REFUSED';
}

const PURPOSE = 'dezi_id_token';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const additionalData = (owner: DeziOwner, exp: number) => Buffer.from(JSON.stringify([PURPOSE, owner.tenant, owner.person, exp]));

export function createDeziSealer(key: Buffer): DeziSealer {
  return {
    seal(idToken, owner, exp) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES }).setAAD(additionalData(owner, exp));
      const ciphertext = Buffer.concat([cipher.update(idToken, 'utf8'), cipher.final()]);
      return { exp, sealed: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url') };
    },

    open(value, owner) {
      const bytes = Buffer.from(String(value.sealed), 'base64url');
      try {
        if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
        const decipher = createDecipheriv(CIPHER, key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
          .setAAD(additionalData(owner, value.exp))
          .setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new SealedDeziRefused(
          `the Dezi id_token kept for person '${owner.person}' of '${owner.tenant}' does not open: it was sealed with another key (nuts.dezi.encryptionKeyFile), for another tenant or person, or changed`,
        );
      }
    },
  };
}
