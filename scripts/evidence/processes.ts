import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

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
