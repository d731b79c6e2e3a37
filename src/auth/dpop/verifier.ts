import type { ReplayCache } from '../../store/repository.js';
import { OAuthError } from '../errors.js';
import { CLOCK_SKEW_SECONDS, nowSeconds } from '../rules.js';
import { DPOP_PROOF_MAX_AGE_SECONDS, DpopProofError, singleProof, verifyProof, type ProofExpectation, type VerifiedProof } from './proof.js';

/**
 * DPoP proofs checked and used up: a proof's jti is remembered in the store's replay table (the one that keeps grant
 * jtis single-use), so a proof replayed to another instance of the gateway is refused as well.
 */
export interface DpopVerifier {
  /** The proof of the request's DPoP header(s), checked against `expected` and used up; throws DpopProofError. */
  verify(header: string | string[] | undefined, expected: Omit<ProofExpectation, 'now'>): Promise<VerifiedProof>;
}

export function createDpopVerifier(replay: Pick<ReplayCache, 'remember'>, clock: () => number = Date.now): DpopVerifier {
  return {
    async verify(header, expected) {
      const proof = await verifyProof(singleProof(header), { ...expected, now: nowSeconds(clock) });
      const keptUntil = new Date((proof.iat + DPOP_PROOF_MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS) * 1000);
      if (!(await replay.remember(`dpop:${proof.jkt}:${proof.jti}`, keptUntil))) throw new DpopProofError('the proof has been used before (jti)');
      return proof;
    },
  };
}

/**
 * The binding a token request asks for (RFC 9449 §5): the thumbprint of the key of its DPoP proof for `tokenEndpoint`,
 * undefined without a proof; a proof that fails is `invalid_dpop_proof`. Every token endpoint (RFC003, Nuts v6) uses it.
 */
export async function tokenBinding(dpop: DpopVerifier, header: string | string[] | undefined, tokenEndpoint: string): Promise<{ jkt: string } | undefined> {
  if (header === undefined) return undefined;
  try {
    const { jkt } = await dpop.verify(header, { htm: 'POST', htu: tokenEndpoint });
    return { jkt };
  } catch (error) {
    if (error instanceof DpopProofError) throw new OAuthError('invalid_dpop_proof', error.message);
    throw error;
  }
}
