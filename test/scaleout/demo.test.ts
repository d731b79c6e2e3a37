import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

/**
 * `npm run demo` as a newcomer runs it: its own process, which starts four gateway processes and tells the story.
 * The summary's claims are checked by the demo itself (it exits non-zero when one does not hold); this test checks
 * that it succeeds and says what the story is about.
 */
function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run demo', () => {
  it('runs the region’s story across four gateway processes and ends with a summary', async () => {
    const { code, output } = await runDemo();
    expect({ code, tail: output.slice(-3000) }).toEqual({ code: 0, tail: expect.stringContaining('Demo succeeded') });
    expect(output).toMatch(/1\. Zorggroep Maas \(URA 22222222\): 2 of 10 free/);
    expect(output).toMatch(/2\. Huize Rotte \(URA 33333333\): 1 of 8 free/);
    expect(output).toMatch(/Zorggroep Maas: Task\/[0-9a-f-]+, now completed/);
    expect(output).toMatch(/Huize Rotte: Task\/[0-9a-f-]+, now rejected/);
    expect(output).toMatch(/Zorggroep Maas\s+2\s+1\s+1/);
    expect(output).toMatch(/Zorggroep Maas: 10 internal values × \d+ payloads → 0 found/);
    expect(output).toMatch(/Huize Rotte: 8 internal values × \d+ payloads → 0 found/);
    expect(output).toMatch(/at the coordination point .*: 0 found/);
  }, 120_000);
});
