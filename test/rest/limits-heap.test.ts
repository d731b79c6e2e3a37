import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

/**
 * Finding 2 as it was found: under a 256 MB heap bound, one batch of 100 searches (5.6 kB) from a tenant's EHR killed
 * the gateway. With the response budget the process lives and answers the entries beyond it as too costly.
 */
function runBounded(script: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', script], { env: { ...process.env, TEST_LOG_LEVEL: 'silent' } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output })));
}

describe('a batch of 100 searches under a 256 MB heap', () => {
  it('leaves the gateway alive: the entries within limits.responseBytes answer, the rest are too costly', async () => {
    const { code, signal, output } = await runBounded('test/rest/heap-bound-batch.ts');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as { status: number; statuses: Record<string, number> };
    expect(result.status).toBe(200);
    expect(result.statuses['200 OK']).toBeGreaterThan(0);
    expect(result.statuses['413 Payload Too Large']).toBeGreaterThan(0);
    expect(result.statuses['200 OK'] + result.statuses['413 Payload Too Large']).toBe(100);
  }, 120_000);
});
