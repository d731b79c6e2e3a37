import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type TransferListItem } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * Worker threads that run one of the gateway's own modules. Run from source (tsx, jest), a worker reads TypeScript
 * through tsx's CommonJS `require` (Node 20 does not apply the ESM loader hooks of the main thread inside a worker);
 * compiled, it imports the JavaScript beside the caller.
 */
const fromSource = import.meta.url.endsWith('.ts');
const TSX_API = fromSource ? require.resolve('tsx/cjs/api') : undefined;

/** `module` (`./name.js`, as the caller imports its neighbours), as the file this build runs. */
export function workerScript(module: string, caller: string): string {
  return fileURLToPath(new URL(fromSource ? module.replace(/\.js$/, '.ts') : module, caller));
}

/** The worker's first code: loads `workerData.script`, and runs `onLoadFailure` (JavaScript, `error` in scope) when that fails. */
const bootstrap = (onLoadFailure: string) => `
const { workerData } = require('node:worker_threads');
(async () => {
  try {
    if (workerData.tsx) require(workerData.tsx).require(workerData.script, workerData.script);
    else await import(require('node:url').pathToFileURL(workerData.script).href);
  } catch (error) {
    ${onLoadFailure}
  }
})();
`;

export interface ModuleWorkerOptions {
  transferList?: readonly TransferListItem[];
  /**
   * What the worker does when `script` cannot be loaded (JavaScript with `error` in scope). By default it ends with
   * that error (the Worker's 'error' event); a caller that waits without an event loop says how it hears of it.
   */
  onLoadFailure?: string;
}

/** A worker running `script` (workerScript) with `data` as its workerData. */
export function moduleWorker(script: string, data: Record<string, unknown>, options: ModuleWorkerOptions = {}): Worker {
  return new Worker(bootstrap(options.onLoadFailure ?? 'throw error;'), {
    eval: true,
    workerData: { ...data, script, tsx: TSX_API },
    transferList: [...(options.transferList ?? [])],
  });
}
