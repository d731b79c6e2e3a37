import { rmSync } from 'node:fs';

/** jest globalTeardown: removes the run's temporary folder made by `run-folder.js` (and only that). */
export default function removeRunFolder() {
  if (process.env.TEST_RUN_FOLDER) rmSync(process.env.TEST_RUN_FOLDER, { recursive: true, force: true });
}
