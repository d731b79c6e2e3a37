import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { planLines, unsupportedElements } from '../../scripts/conformance/plan.js';
import { runScript } from '../../scripts/conformance/runner.js';
import { findScripts, loadFixtures, loadScript } from '../../scripts/conformance/script-file.js';
import { profileValidation } from '../../scripts/conformance/validate.js';
import { fixtureFolder } from '../fixtures.js';
import { startFakeFhirServer, type FakeFhirServer } from './fake-server.js';

/**
 * Every Nictiz eOverdracht 4.0 TestScript is read by the runner without an element it would not carry out, with its
 * fixtures (files under `_reference`, relative to the script) and its release (STU3, from properties.json). Running
 * them against the gateway is not expected to pass yet (issue 14): this checks the engine understands them.
 */
const TEST = fixtureFolder('nictiz-testscripts/eOverdracht-4.0/Test');

/** Every TestScript file, the `_LoadResources` script included (a run of the whole folder skips `_` folders; each is named here). */
function everyScript(): string[] {
  const folders = readdirSync(TEST, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name !== '_reference');
  return folders.flatMap((folder) => findScripts(path.join(TEST, folder.name)));
}

const scripts = everyScript();

describe('the Nictiz eOverdracht 4.0 TestScripts', () => {
  it('are all found: Sending-XIS, Sending-XIS-Nictiz-only, Receiving-XIS, Receiving-XIS-NoDocument, Prevalidation, _LoadResources', () => {
    const relative = scripts.map((file) => path.relative(TEST, file));
    expect(relative.filter((file) => file.startsWith('Sending-XIS/'))).toHaveLength(14);
    expect(relative.filter((file) => file.startsWith('Receiving-XIS/'))).toHaveLength(7);
    expect(relative).toContain('_LoadResources/load-resources-purgecreateupdate-xml.xml');
    expect(scripts.length).toBeGreaterThanOrEqual(52);
  });

  it.each(scripts.map((file) => [path.relative(TEST, file), file]))('%s: read as STU3 with its fixtures, and every element carried out', (_name, file) => {
    const loaded = loadScript(file);
    expect(loaded.version).toBe('stu3');
    expect(unsupportedElements(loaded)).toEqual([]);
    const fixtures = loadFixtures(loaded);
    expect([...fixtures.keys()]).toEqual((loaded.script.fixture ?? []).map((fixture) => fixture.id));
    const plan = planLines(loaded);
    expect(plan.some((line) => /^\s+(send|await)/.test(line))).toBe(true);
  });

  it('plans a Sending-XIS script as the tester reads it: the notification awaited, the reads and the update sent', () => {
    const plan = planLines(loadScript(path.join(TEST, 'Sending-XIS', 'Scenario1-01b-phase2-handoff-json.xml')));
    expect(plan).toEqual(
      expect.arrayContaining([
        '  await from the system under test: create Resource /${task-id}',
        '  send: read Task ${task-id} → in-progress-task-response',
        '  send: read Composition /${in-progress-task-response-composition-11171000146100-id}/$document',
        '  assert: rule modifyTask (newStatus=completed, fixtureId=completed-task-fixture)',
        '  send: update Task /${task-id} with completed-task-fixture',
      ]),
    );
  });

  it('plans a Receiving-XIS script: the simulated sender loaded by the platform, the notification sent to the system under test', () => {
    const plan = planLines(loadScript(path.join(TEST, 'Receiving-XIS', 'Scenario1-01b-phase2-handoff.xml')));
    expect(plan).toEqual(
      expect.arrayContaining([
        "  the simulated system's own: update Task /${task-id} with initial-task-fixture → setup-task-response",
        '  send: create ${notificationEndpoint}/${task-id}',
        '  await from the system under test: read Task /${task-id} → in-progress-task-response',
      ]),
    );
  });
});

describe('a Sending-XIS script run against a small STU3 server that holds the scenario Task', () => {
  let server: FakeFhirServer;
  beforeAll(async () => {
    server = await startFakeFhirServer('stu3');
  });
  afterAll(() => server.close());

  it('skips the awaited notification, reads and validates the Task, runs the rule, fails the missing $document, checks the update', async () => {
    const task = readFileSync(path.join(TEST, '_reference/resources/resources-specific/eOverdracht-Task-eov-test-1_1b-IN-PROGRESS.xml'), 'utf8').replace('${task-id}', 'task-1');
    await fetch(`${server.base}/Task/task-1`, { method: 'PUT', headers: { 'content-type': 'application/fhir+xml' }, body: task });
    const loaded = loadScript(path.join(TEST, 'Sending-XIS', 'Scenario1-01b-phase2-handoff-json.xml'));
    const validate = profileValidation([path.join(fixtureFolder('eoverdracht-stu3'), 'profiles')]);
    const report = await runScript(loaded, { server: server.base, format: 'json', variables: { 'task-id': 'task-1' }, validate });
    const byPart = (part: string) => report.results.filter((result) => result.part === part).map((result) => `${result.outcome} ${result.kind}`);
    expect(byPart('test Notify new Task')).toEqual(['skip operation']);
    expect(byPart("test Serve 'in-progress' Task")).toEqual(['pass operation', 'pass assert', 'pass assert', 'pass assert', 'pass assert', 'pass assert']);
    expect(byPart('test Serve nursing handoff').slice(0, 3)).toEqual(['pass operation', 'fail assert', 'skip assert']);
    expect(byPart("test Handle Task update to 'completed'")).toEqual(['pass operation', 'pass assert', 'pass assert', 'pass assert']);
    const update = server.seen.find((request) => request.method === 'PUT' && request.headers.accept === 'application/fhir+json' && request.path === '/Task/task-1')!;
    expect(JSON.parse(update.body)).toMatchObject({ resourceType: 'Task', id: 'task-1', status: 'completed' });
    expect(JSON.parse(update.body).text).toBeUndefined();
  }, 120_000);
});
