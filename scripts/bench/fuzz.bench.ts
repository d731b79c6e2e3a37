/**
 * Bad-input evidence (DESIGN §8): 10,000 fuzzed bodies, headers and tokens against a gateway process → 0 × 5xx, 0
 * crashes, each refusal a 4xx OperationOutcome (scripts/evidence/fuzz.ts). EVIDENCE_FUZZ_REQUESTS and
 * EVIDENCE_FUZZ_SEED change the number and the seed.
 */
import { fuzzBadRequests } from '../evidence/fuzz.js';
import type { Figure } from './index.js';

export const run = (): Promise<Figure[]> => fuzzBadRequests();
