import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OperationOutcome, OperationOutcomeIssue } from '../../src/fhir/outcome.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseResource } from '../../src/validation/source.js';
import { fixtureFolder } from '../fixtures.js';

export const FIXTURES = fixtureFolder();
export const EOVERDRACHT_PROFILES = path.join(FIXTURES, 'eoverdracht-stu3/profiles');

/**
 * The Nictiz examples are TouchStone test-script templates: `${CURRENTDATE}` and `${DATE, T, d, n}` (today plus n
 * days) are filled in before a message is sent. They are filled in the same way here; a validator must refuse
 * the raw placeholders, which are not dates.
 */
export function renderTouchstoneDates(text: string, today = new Date()): string {
  const day = (offset: number) => new Date(today.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  return text
    .replaceAll('${CURRENTDATE}', day(0))
    .replace(/\$\{DATE, T, d, (-?\d+)\}/g, (_, offset: string) => day(Number(offset)));
}

export function fixtureText(relative: string): string {
  return readFileSync(path.join(FIXTURES, relative), 'utf8');
}

export function readFixture(relative: string, version: FhirVersion): Resource {
  return parseResource(renderTouchstoneDates(fixtureText(relative)), version);
}

export const errorsOf = (outcome: OperationOutcome): OperationOutcomeIssue[] =>
  outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');

export const warningsOf = (outcome: OperationOutcome): OperationOutcomeIssue[] => outcome.issue.filter((i) => i.severity === 'warning');

/** One line per issue, for readable failure messages. */
export const describeIssues = (issues: OperationOutcomeIssue[]): string =>
  issues.map((i) => `${i.severity} ${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`).join('\n');

export const expressionsOf = (issues: OperationOutcomeIssue[]): string[] => issues.map((i) => i.expression?.[0] ?? '');

/** A differential-only R4 profile on the core Patient: the validator generates its snapshot. */
export const patientProfile = (url: string, name: string, elements: object[], more: Record<string, unknown> = {}) => ({
  resourceType: 'StructureDefinition',
  url,
  name,
  status: 'draft',
  fhirVersion: '4.0.1',
  kind: 'resource',
  abstract: false,
  type: 'Patient',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
  derivation: 'constraint',
  ...more,
  differential: { element: elements },
});
