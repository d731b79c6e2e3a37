import path from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fixtureFolder } from '../fixtures.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { startFakeFhirServer, type FakeFhirServer } from './fake-server.js';
import { writeScripts } from './scripts.js';

/** `npm run conformance` as a tester runs it: the per-assert report, the summary, and the exit code. */
let folder: string;
let scripts: { json: string; xml: string };
let server: FakeFhirServer;

beforeAll(async () => {
  folder = temporaryFolder('conformance-cli-');
  scripts = writeScripts(folder);
  server = await startFakeFhirServer('r4');
});
afterAll(async () => {
  await server.close();
  removeFolder(folder);
});

function conformance(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node_modules/.bin/tsx', ['scripts/conformance/index.ts', ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
}

describe('npm run conformance', () => {
  it('prints every assert and a summary, and exits 0 when all pass', async () => {
    server.reset();
    const { code, stdout } = await conformance(scripts.json, '--server', server.base, '--token', 'given');
    expect(stdout).toMatch(/PASS {2}created: response code 201/);
    expect(stdout).toMatch(/WARN {2}has a phone/);
    expect(stdout).toMatch(/1 script\(s\): 1 passed, 0 failed\nasserts: 10 passed, 0 failed, 1 warnings, 0 skipped/);
    expect(code).toBe(0);
    expect(server.seen[0]!.headers.authorization).toBe('Bearer given');
  }, 60_000);

  it('exits 1 naming the failed assert when the server answers wrongly', async () => {
    server.reset();
    server.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), status: 404 };
    const { code, stdout } = await conformance(scripts.json, '--server', server.base);
    expect(stdout).toMatch(/FAIL {2}read answers 200: response code 404; expected 200/);
    expect(code).toBe(1);
  }, 60_000);

  it('reports as JSON with --report json, and lists the plan with --plan without sending', async () => {
    server.reset();
    const json = await conformance(scripts.json, '--server', server.base, '--report', 'json');
    expect(JSON.parse(json.stdout).asserts).toEqual({ pass: 10, fail: 0, warning: 1, skip: 0 });
    server.reset();
    const plan = await conformance(scripts.json, '--plan');
    expect(plan.stdout).toMatch(/send: read Patient \/\$\{patientId\} → read-response/);
    expect(plan.code).toBe(0);
    expect(server.seen).toEqual([]);
  }, 60_000);

  it('exits 2 on wrong usage', async () => {
    const { code, stderr } = await conformance(scripts.json);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--server is required/);
  }, 60_000);

  it('plays the other system with --platform-port: an awaited request that never comes fails its operation; a bad port is wrong usage', async () => {
    const receiving = path.join(fixtureFolder('nictiz-testscripts/eOverdracht-4.0/Test'), 'Receiving-XIS', 'Scenario1-01b-phase2-handoff.xml');
    const run = await conformance(receiving, '--server', server.base, '--platform-port', '0', '--await-timeout', '1', '--var', `notificationEndpoint=${server.base}`);
    expect(run.stdout).toMatch(/test platform \(the other system\) at http:\/\/127\.0\.0\.1:\d+\/fhir/);
    expect(run.stdout).toMatch(/FAIL\s+\[Get Task resource for eOverdracht\]: awaited GET http:\/\/127\.0\.0\.1:\d+\/fhir\/Task\/eOverdracht-Task-eov-\w+: no such request arrived within 1 s/);
    expect(run.code).toBe(1);
    const usage = await conformance(receiving, '--server', server.base, '--platform-port', 'eighty');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--platform-port is a port number/);
  }, 90_000);
});
