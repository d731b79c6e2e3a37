/**
 * 1 M stored resources on SQLite (DESIGN §8): owner+status Task search p95 over HTTP and at the store, and the gateway
 * process's RSS (scripts/evidence/million.ts). EVIDENCE_RESOURCES sets the size (default 1,000,000).
 */
import { millionResources } from '../evidence/million.js';
import type { Figure } from './index.js';

export const run = (): Promise<Figure[]> => millionResources();
