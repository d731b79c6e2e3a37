import type { ReplayCache } from '../../store/repository.js';
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
