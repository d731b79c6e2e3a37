/**
 * `npm run bench`: runs every `scripts/bench/*.bench.ts` module (or those named on the command line) and prints one
 * JSON object per figure: {"name", "value", "unit", "baseline"}. A figure's baseline is measured in the same run,
 * because these machines are shared and absolute numbers drift.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The same quantity for the reference implementation, measured in this run (null when none applies). */
  baseline: number | null;
  /** Optional context: the target, the baseline's name, sample sizes. */
  [key: string]: unknown;
}

export type BenchModule = { run: () => Promise<Figure[]> };

const folder = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(folder)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.startsWith(name)))
  .sort();

// A module that fails is reported and the others still run; the exit code says that one failed.
for (const file of files) {
  try {
    const module = (await import(pathToFileURL(path.join(folder, file)).href)) as BenchModule;
    for (const figure of await module.run()) console.log(JSON.stringify(figure));
  } catch (error) {
    console.error(`bench ${file} failed:`, error);
    process.exitCode = 1;
  }
}
