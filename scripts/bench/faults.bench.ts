/**
 * Fault evidence (DESIGN §8 "faults"), each figure a count of notifications lost, target 0 (no baseline applies):
 * - kill -9 of a gateway process during 10,000 deliveries, then a restart on the same SQLite database
 *   (scripts/evidence/kill-during-delivery.ts);
 * - two gateway processes on one PostgreSQL schema under load, one of them killed with -9 mid-way
 *   (scripts/evidence/postgres-two-instances.ts; skipped when no PostgreSQL answers).
 * Each takes about a minute on a quiet machine; docs/operations.md has the figures and how to read them.
 */
import { killDuringDelivery } from '../evidence/kill-during-delivery.js';
import { postgresTwoInstances } from '../evidence/postgres-two-instances.js';
import type { Figure } from './index.js';

export async function run(): Promise<Figure[]> {
  return [...(await killDuringDelivery()), ...(await postgresTwoInstances())];
}
