import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ehrToken } from '../../test/harness/calls.js';
import { freePort, startProcess } from '../../test/harness/gateways.js';
import { hostedOrganization, party } from '../../test/harness/parties.js';
import { fixtureFolder } from '../../test/fixtures.js';
import type { Figure } from '../bench/index.js';
import { buildGateway, compiledGateway, killHard, machineLoad, removeBuild, residentMb } from './processes.js';

/**
 * Issue #17: the resident memory of an idle gateway, with every default profile package active, and of the same
 * gateway once it has validated one resource of each release (each release's base definitions are read on its
 * first resource). The compiled gateway, as the Docker image runs it, without a heap bound; empty SQLite store.
 * SETTLE_MS after each step lets the process reach its steady state before RSS is read.
 */
const SETTLE_MS = 3_000;
const TENANT = 'vvt-noord';
const IDLE_TARGET_MB = 200;

const FIXTURES = fixtureFolder();
const STU3_TASK = path.join(FIXTURES, 'eoverdracht-stu3/examples/twiin-notification-task.json');
const R4_OBSERVATION = path.join(FIXTURES, 'nl-core-r4/zib2020-json/nl-core-BodyWeight-01.json');

async function validateOver(url: string, token: string, base: string, file: string): Promise<void> {
  const response = await fetch(`${url}${base}/$validate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: readFileSync(file),
  });
  const outcome = (await response.json()) as { resourceType?: string; issue?: { code?: string; diagnostics?: string; details?: { text?: string } }[] };
  if (outcome.resourceType !== 'OperationOutcome') throw new Error(`$validate on ${base} answered ${response.status} without an OperationOutcome`);
  // The figure is only worth something if the base definitions were read: a validation that broke off does not count.
  const broken = outcome.issue?.find((i) => i.code === 'exception');
  if (broken) throw new Error(`$validate on ${base} did not complete: ${broken.details?.text ?? broken.diagnostics}`);
}

export async function gatewayFootprint(): Promise<Figure[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'evidence-footprint-'));
  let gateway: ChildProcess | undefined;
  try {
    buildGateway();
    const owner = await party(TENANT, 'VVT Noord', '77777777');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ mode: 'production', port, publicBaseUrl: url, dataDir, organizations: [await hostedOrganization(owner, ['receiver'])] }));
    gateway = await startProcess({ url, dataDir }, compiledGateway());
    await sleep(SETTLE_MS);
    const idle = residentMb(gateway.pid!);
    const token = await ehrToken(url, owner);
    await validateOver(url, token, '/fhir/stu3', STU3_TASK);
    await validateOver(url, token, '/fhir', R4_OBSERVATION);
    await sleep(SETTLE_MS);
    const validating = residentMb(gateway.pid!);
    const context = { heapBound: 'none', ...machineLoad() };
    return [
      { name: 'gateway.idle.rss', value: idle, unit: 'MB', baseline: null, target: `<= ${IDLE_TARGET_MB} MB idle with every default profile package active (issue #17)`, ...context },
      {
        name: 'gateway.validating.rss',
        value: validating,
        unit: 'MB',
        baseline: idle,
        baselineName: 'the same gateway idle, before its first resources',
        note: 'after one $validate per release: both base definition sets and the eOverdracht package read',
        ...context,
      },
    ];
  } finally {
    await killHard(gateway);
    removeBuild();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
