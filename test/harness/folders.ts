import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh folder under the temporary folder (of the test run: see jest.config.js), for the caller to remove. */
export const temporaryFolder = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

export const removeFolder = (folder: string) => rmSync(folder, { recursive: true, force: true });
