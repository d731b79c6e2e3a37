import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { runScript, type RunOptions, type ScriptReport } from '../../scripts/conformance/runner.js';
import { loadScript } from '../../scripts/conformance/script-file.js';
import { profileValidation } from '../../scripts/conformance/validate.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { startFakeFhirServer, type FakeFhirServer } from './fake-server.js';
import { JSON_SCRIPT, writeScripts } from './scripts.js';

/**
 * The conformance runner against a small FHIR server written here: the same scripts pass against it and fail,
 * assert by assert, against its mutated answers.
 */
let folder: string;
let scripts: { json: string; xml: string; target: string };
let r4: FakeFhirServer;
let stu3: FakeFhirServer;
const validate = profileValidation([]);

beforeAll(async () => {
  folder = temporaryFolder('conformance-');
  scripts = writeScripts(folder);
  [r4, stu3] = await Promise.all([startFakeFhirServer('r4'), startFakeFhirServer('stu3')]);
});
afterAll(async () => {
  await Promise.all([r4.close(), stu3.close()]);
  removeFolder(folder);
});
beforeEach(() => {
  r4.reset();
  stu3.reset();
});

const options = (server: FakeFhirServer, extra: Partial<RunOptions> = {}): RunOptions => ({ server: server.base, format: 'json', variables: {}, validate, ...extra });
const run = (file: string, server: FakeFhirServer, extra?: Partial<RunOptions>) => runScript(loadScript(file), options(server, extra));
const failing = (report: ScriptReport) => report.results.filter((result) => result.outcome === 'fail').map((result) => result.label);
const outcomeOf = (report: ScriptReport, label: string) => report.results.find((result) => result.label === label)?.outcome;

describe('a JSON R4 TestScript', () => {
  it('passes every assert against a server that answers as it should', async () => {
    const report = await run(scripts.json, r4);
    expect(report.problems).toEqual([]);
    expect(failing(report)).toEqual([]);
    expect(report.results.filter((result) => result.kind === 'assert')).toHaveLength(11);
    expect(outcomeOf(report, 'valid Patient')).toBe('pass');
    // warningOnly: the fixture has no phone, which is a warning and not a failure
    expect(outcomeOf(report, 'has a phone')).toBe('warning');
    expect(r4.seen.map((request) => request.method)).toEqual(['POST', 'GET', 'GET', 'DELETE']);
  }, 60_000);

  it('carries variables from one response into the next requests: an id by FHIRPath, a header, a default', async () => {
    await run(scripts.json, r4);
    const [create, read, search, teardown] = r4.seen;
    const created = JSON.parse(create!.body) as { name: unknown };
    expect(created.name).toEqual([{ family: 'Jansen', given: ['Anna'] }]);
    expect(read!.path).toBe('/Patient/p-1');
    expect(read!.headers['x-created']).toBe(`${r4.base}/Patient/p-1/_history/1`);
    expect(search!.path).toBe('/Patient?family=Jansen');
    expect(teardown!.path).toBe('/Patient/p-1');
  });

  it('fails exactly the response code assert when the create answers 200', async () => {
    r4.mutation = { applies: (request) => request.method === 'POST', status: 200 };
    const report = await run(scripts.json, r4);
    expect(failing(report)).toEqual(['created']);
    expect(report.results.find((result) => result.label === 'created')!.message).toMatch(/response code 200; expected 201 \(created\)/);
  });

  it('fails exactly the expression assert when the read leaves out the name', async () => {
    r4.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), resource: ({ name: _name, ...patient }) => patient };
    const report = await run(scripts.json, r4);
    expect(failing(report)).toEqual(['family name']);
  });

  it('fails exactly the compareToSource assert when the read changes the birth date', async () => {
    r4.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), resource: (patient) => ({ ...patient, birthDate: '1941-02-03' }) };
    expect(failing(await run(scripts.json, r4))).toEqual(['birth date as sent']);
  });

  it('fails exactly the content type assert when the read answers application/json', async () => {
    r4.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), contentType: 'application/json' };
    expect(failing(await run(scripts.json, r4))).toEqual(['FHIR JSON']);
  });

  it('fails the profile assert (and only it) when the read answers an invalid Patient', async () => {
    r4.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), resource: (patient) => ({ ...patient, gender: 'unknown-gender' }) };
    const report = await run(scripts.json, r4);
    expect(failing(report)).toEqual(['valid Patient']);
    expect(report.results.find((result) => result.label === 'valid Patient')!.message).toMatch(/gender/);
  }, 60_000);

  it('fails the minimum assert when the identifier is lost', async () => {
    r4.mutation = { applies: (request) => request.method === 'GET' && request.path.startsWith('/Patient/'), resource: ({ identifier: _identifier, ...patient }) => patient };
    expect(failing(await run(scripts.json, r4))).toEqual(['identifier kept']);
  });

  it('sends the credential it is given in place of the script', async () => {
    await run(scripts.json, r4, { authorization: async () => 'Bearer given' });
    expect(r4.seen.every((request) => request.headers.authorization === 'Bearer given')).toBe(true);
  });

  it('reports a variable without a value by name and stops that test, not the others', async () => {
    r4.mutation = { applies: (request) => request.method === 'POST', resource: ({ id: _id, ...patient }) => patient };
    const report = await run(scripts.json, r4);
    const read = report.results.find((result) => result.part === 'test read' && result.kind === 'operation')!;
    expect(read.outcome).toBe('fail');
    expect(read.message).toMatch(/variable patientId has no value from create-response/);
    expect(report.results.filter((result) => result.part === 'test read' && result.kind === 'assert').every((result) => result.outcome === 'skip')).toBe(true);
    expect(outcomeOf(report, 'one match')).toBe('pass');
  });
});

describe('operations by target', () => {
  it('run a transaction, then read, vread and delete what a create answered, and check the request sent', async () => {
    const report = await run(scripts.target, r4);
    expect(failing(report)).toEqual([]);
    expect(report.results.filter((result) => result.kind === 'assert').map((result) => result.outcome)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
    expect(r4.seen.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /',
      'POST /Patient',
      'GET /Patient/p-2',
      'GET /Patient/p-2/_history/1',
      'DELETE /Patient/p-2',
      'GET /Patient/p-2',
    ]);
  });

  it('fail the vread assert when the server keeps no version 1', async () => {
    r4.mutation = { applies: (request) => request.method === 'POST' && request.path === '/Patient', resource: (patient) => ({ ...patient, meta: { versionId: '7' } }) };
    expect(failing(await run(scripts.target, r4))).toEqual(['vread of version 1']);
  });
});

describe('an XML STU3 TestScript (Touchstone dialect)', () => {
  it('is read as STU3 from properties.json, sends and receives XML, and passes', async () => {
    const loaded = loadScript(scripts.xml);
    expect(loaded.version).toBe('stu3');
    const report = await runScript(loaded, options(stu3));
    expect(report.problems).toEqual([]);
    expect(failing(report)).toEqual([]);
    expect(report.results.filter((result) => result.outcome === 'pass')).toHaveLength(6);
    const [create, read] = stu3.seen;
    expect(create!.headers['content-type']).toBe('application/fhir+xml');
    expect(create!.body).toMatch(/<Patient xmlns="http:\/\/hl7.org\/fhir">/);
    expect(read!.path).toBe('/Patient/p-1');
  });

  it('stops the test at a failed assert marked stopTestOnFail', async () => {
    stu3.mutation = { applies: (request) => request.method === 'GET', status: 404 };
    const report = await runScript(loadScript(scripts.xml), options(stu3));
    expect(failing(report)).toEqual(['read answers 200']);
    expect(outcomeOf(report, 'FHIR XML')).toBe('skip');
    expect(outcomeOf(report, 'family name')).toBe('skip');
  });
});

describe('fixtures marked autocreate and autodelete', () => {
  it('are created before setup, asserted on as created, and deleted after teardown', async () => {
    const file = path.join(folder, 'r4', 'autocreate.json');
    const script = {
      resourceType: 'TestScript',
      name: 'Autocreate',
      status: 'active',
      contained: [{ resourceType: 'Patient', id: 'anna', name: [{ family: 'Jansen' }] }],
      fixture: [{ id: 'patient', autocreate: true, autodelete: true, resource: { reference: '#anna' } }],
      test: [{ name: 'read', action: [{ operation: { type: { code: 'read' }, targetId: 'patient', encodeRequestUrl: true } }, { assert: { label: 'found', response: 'okay', warningOnly: false } }] }],
    };
    writeFileSync(file, JSON.stringify(script));
    const report = await run(file, r4);
    expect(failing(report)).toEqual([]);
    // the contained fixture has an id, so it is put under it; the read and the delete follow it
    expect(r4.seen.map((request) => `${request.method} ${request.path}`)).toEqual(['PUT /Patient/anna', 'GET /Patient/anna', 'DELETE /Patient/anna']);
  });
});

describe('what the runner does not carry out', () => {
  it('refuses a script with an element it does not support, before sending anything', async () => {
    const file = path.join(folder, 'r4', 'with-ruleset.json');
    const withRuleset = structuredClone(JSON_SCRIPT) as typeof JSON_SCRIPT & { test: { action: { assert?: Record<string, unknown> }[] }[] };
    withRuleset.test[0]!.action[1]!.assert!.ruleset = { rulesetId: 'r' };
    writeFileSync(file, JSON.stringify(withRuleset));
    const report = await run(file, r4);
    expect(report.problems).toEqual(['TestScript.test[0].action[1].assert.ruleset: not supported']);
    expect(report.results).toEqual([]);
    expect(r4.seen).toEqual([]);
  });
});
