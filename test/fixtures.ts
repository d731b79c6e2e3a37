import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * External test material (Nictiz eOverdracht examples and profiles, nl-core R4 examples, the HL7 validator cases,
 * Wycheproof/JOSE vectors, SANER capacity examples) lives in `../shared/fixtures`, beside the repository, and is
 * never copied into it. FIXTURES_DIR points elsewhere.
 */
const ROOT = path.resolve(process.cwd(), process.env.FIXTURES_DIR ?? '../shared/fixtures');

/** The folder of fixtures under `relative`; a missing one stops the test file with what is missing and where it comes from. */
export function fixtureFolder(relative = ''): string {
  const folder = path.join(ROOT, relative);
  if (!existsSync(folder)) {
    throw new Error(
      `Missing test material: ${folder}. The tests read external fixtures from ../shared/fixtures beside the repository ` +
        "(the project's shared folder, laid out with the repository; see README, Tests); set FIXTURES_DIR if it lives elsewhere.",
    );
  }
  return folder;
}
