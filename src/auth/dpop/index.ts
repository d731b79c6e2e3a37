export { accessTokenHash, DPOP_ALGORITHMS, DPOP_HEADER, DPOP_PROOF_MAX_AGE_SECONDS, DpopProofError, type VerifiedProof } from './proof.js';
export { createDpopVerifier, tokenBinding, type DpopVerifier } from './verifier.js';
export { signProof, type DpopKey } from './sign.js';
