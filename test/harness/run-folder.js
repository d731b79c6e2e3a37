import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * jest globalSetup: the run gets a temporary folder of its own as TMPDIR, inherited by the workers and by the
 * gateway processes tests start; `run-folder-teardown.js` removes it with everything in it when the run ends, so a
 * test that fails before its own clean-up leaves nothing behind either.
 */
export default function makeRunFolder() {
  const folder = mkdtempSync(path.join(tmpdir(), 'vervolgzorg-test-'));
  process.env.TEST_RUN_FOLDER = folder;
  process.env.TMPDIR = folder;
}
