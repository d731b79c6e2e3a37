import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * jest globalSetup. Workers and the gateway processes tests start inherit what it sets:
 * - a temporary folder of the run's own as TMPDIR, removed with everything in it by `global-teardown.js`, so a test
 *   that fails before its own clean-up leaves nothing behind either;
 * - the name prefix of the run's PostgreSQL databases, one per worker (`postgres.ts`), dropped at the end as well.
 * Jest loads this file outside its TypeScript transform and module mapping, so it is JavaScript and imports nothing of ours.
 */
export default function globalSetup() {
  const folder = mkdtempSync(path.join(tmpdir(), 'vervolgzorg-test-'));
  process.env.TEST_RUN_FOLDER = folder;
  process.env.TMPDIR = folder;
  const server = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  process.env.GATEWAY_TEST_DATABASE_PREFIX = `${server.pathname.slice(1) || 'test'}_${process.pid}_w`;
}
