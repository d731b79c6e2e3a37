/**
 * `npm run bench`: runs every `scripts/bench/*.bench.ts` module (or those named on the command line) and prints one
 * JSON object per figure: {"name", "value", "unit", "baseline"}. A figure's baseline is measured in the same run,
 * because these machines are shared and absolute numbers drift.
 */
import { fork } from 'node:child_process';
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

/** Runs one module here and prints its figures; a module that fails is reported, and the exit code says so. */
async function runModule(file: string): Promise<void> {
  try {
    const module = (await import(pathToFileURL(path.join(folder, file)).href)) as BenchModule;
    for (const figure of await module.run()) console.log(JSON.stringify(figure));
  } catch (error) {
    console.error(`bench ${file} failed:`, error);
    process.exitCode = 1;
  }
}

/**
 * Several modules run one after another, each in a process of its own: what one leaves behind (a heap of 100,000
 * Tasks, a busy WAL) must not slow the next one's figures.
 */
function runInChild(file: string): Promise<void> {
  return new Promise((resolve) => {
    fork(fileURLToPath(import.meta.url), [file], { stdio: 'inherit' }).once('exit', (code) => {
      if (code !== 0) process.exitCode = 1;
      resolve();
    });
  });
}

if (files.length === 1) await runModule(files[0]!);
else for (const file of files) await runInChild(file);
