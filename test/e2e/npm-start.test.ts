import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';

/** `npm start` on a fresh data folder, as a newcomer runs it: no config, development mode, SQLite under DATA_DIR. */
const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-npm-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function npmStart(env: Record<string, string>): Started {
  // Its own process group, so the test can stop npm and the gateway under it together.
  const child = spawn('npm', ['start'], { cwd: process.cwd(), env: { ...process.env, LOG_LEVEL: 'info', ...env }, detached: true });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  // 'close' waits for every process holding the output pipes (npm, tsx, the gateway), not just npm itself.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The gateway logs one JSON line with its URL once it listens (PORT=0: the OS picks a free port). */
async function listeningUrl(started: Started): Promise<string> {
  for (let waited = 0; waited < 25_000; waited += 100) {
    const line = started.output().split('\n').find((candidate) => candidate.includes('"gateway listening"'));
    if (line) return (JSON.parse(line) as { url: string }).url;
    if (started.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gateway did not start:\n${started.output()}`);
}

describe('npm start', () => {
  it('serves both metadata endpoints with nothing set up, and stops cleanly on SIGTERM', async () => {
    const started = npmStart({ PORT: '0', DATA_DIR: dataDir });
    try {
      const url = await listeningUrl(started);
      for (const [base, fhirVersion] of [
        ['/fhir', '4.0.1'],
        ['/fhir/stu3', '3.0.2'],
      ]) {
        const response = await fetch(`${url}${base}/metadata`);
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion });
      }
      // `npm run token` finds the gateway whatever PORT it was started with (here one the OS picked).
      const token = execFileSync('npm', ['run', '-s', 'token'], { env: { ...process.env, DATA_DIR: dataDir, PORT: '' }, encoding: 'utf8' }).trim();
      expect((await fetch(`${url}/fhir/Patient`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      process.kill(-started.child.pid!, 'SIGTERM');
    }
    await started.exited;
    expect(started.output()).toContain('"shutting down"');
    expect(started.output()).toContain('"gateway stopped"');
  });

  it('exits non-zero with a message naming the field when the configuration is invalid', async () => {
    const configFile = path.join(dataDir, 'bad-config.json');
    writeFileSync(configFile, JSON.stringify({ publicBaseUrl: 'http://localhost:8080', organizations: [{ id: 'x', name: 'X', roles: ['baker'] }] }));
    const started = npmStart({ GATEWAY_CONFIG: configFile, DATA_DIR: dataDir });
    expect(await started.exited).not.toBe(0);
    expect(started.output()).toMatch(/organizations\.0\.roles\.0/);
  });
});
