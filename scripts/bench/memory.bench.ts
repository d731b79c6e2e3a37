/**
 * Memory evidence (issue #12): under a 256 MB heap bound, 50 concurrent worst-case requests (the largest allowed batch
 * of searches and the largest allowed resource, from the local EHR and from remote organisations) leave the gateway
 * alive and answering /healthz within 1 s throughout (scripts/evidence/memory.ts). EVIDENCE_MEMORY_ROUNDS,
 * EVIDENCE_MEMORY_CONCURRENCY and EVIDENCE_MEMORY_PATIENTS change the rounds, the requests at once and the seeded store.
 */
import { memoryUnderWorstCase } from '../evidence/memory.js';
import type { Figure } from './index.js';

export const run = (): Promise<Figure[]> => memoryUnderWorstCase();
