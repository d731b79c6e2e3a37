import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';

const BUILD = path.resolve('.evidence-build');

/**
 * Compiles the gateway as the Docker image runs it (`tsc -p tsconfig.build.json`, into a temporary `.evidence-build/`
 * next to `conformance/` and `profiles/`); `compiledGateway` gives the node arguments that start it.
 */
export function buildGateway(): void {
  execFileSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', BUILD], { stdio: 'inherit' });
}

export function removeBuild(): void {
  rmSync(BUILD, { recursive: true, force: true });
}

/** Node arguments for the compiled gateway, with the V8 heap bounded to `heapBoundMb` when given. */
export const compiledGateway = (heapBoundMb?: number) => [...(heapBoundMb ? [`--max-old-space-size=${heapBoundMb}`] : []), path.join(BUILD, 'main.js')];

/** kill -9, and wait until the process is gone. */
export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Resident memory of a process, in MB (Linux: /proc). */
export function residentMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/** The most resident memory the process has had since it started, in MB. */
export function peakResidentMb(pid: number): number {
  return statusMb(pid, 'VmHWM');
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith(`${field}:`));
  return Math.round(Number(line?.match(/\d+/)?.[0] ?? NaN) / 1024);
}

/** The machine is shared: every evidence figure says how busy it was when measured. */
export function machineLoad(): { loadAverage1m: number } {
  return { loadAverage1m: Number(loadavg()[0].toFixed(2)) };
}
