/**
 * Resident memory of the compiled gateway, idle with every default profile package active and after its first
 * validation per release (scripts/evidence/footprint.ts; issue #17). The 1 M-resource figure is million.bench.ts.
 */
import { gatewayFootprint } from '../evidence/footprint.js';
import type { Figure } from './index.js';

export const run = (): Promise<Figure[]> => gatewayFootprint();
