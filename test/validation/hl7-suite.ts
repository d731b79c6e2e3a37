import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OperationOutcomeError, type OperationOutcomeIssue } from '../../src/fhir/outcome.js';
import type { FhirVersion } from '../../src/fhir/version.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import type { ContentPolicy } from '../../src/validation/policy.js';
import { parseResource } from '../../src/validation/source.js';
import { describeIssues, errorsOf, FIXTURES } from './support.js';

/**
 * The HL7 validator cases (`fhir-test-cases/cases.json`, 44 R4 cases, and `suite/cases.json`, 288 R4 and STU3
 * cases) run through this validator, each with the Java validator's verdict beside ours.
 */
export type Verdict = 'valid' | 'invalid';

export interface SuiteCase {
  id: string;
  version: FhirVersion;
  /** The resource, relative to the fixtures folder. */
  file: string;
  expected: Verdict;
  /** Every Java error needs a terminology server (a code's display or membership): counted apart. */
  txOnly: boolean;
  /** Profiles to load, relative to the fixtures folder. */
  profilesFolder?: string;
  profileUrl?: string;
  javaErrors: string[];
  /** The Java validator's options for the case (`allow-comments`, ...). */
  options: Record<string, unknown>;
}

export interface SuiteResult {
  case: SuiteCase;
  verdict: Verdict;
  errors: string;
}

interface FirstSet {
  name: string;
  file: string;
  expected: Verdict;
  java_error_count: number;
  tx_related_errors: number;
  first_errors?: unknown[];
}

interface SecondSet {
  id: string;
  version: FhirVersion;
  file: string;
  expected: Verdict;
  java_tx_only: boolean;
  profilesFolder: string | null;
  profileUrl: string | null;
  java_errors: { where: string; text: string }[];
  options: Record<string, unknown>;
}

const read = <T>(relative: string): T[] => JSON.parse(readFileSync(path.join(FIXTURES, relative), 'utf8')) as T[];

export function suiteCases(): SuiteCase[] {
  const first = read<FirstSet>('fhir-test-cases/cases.json').map(
    (c): SuiteCase => ({
      id: c.name,
      version: 'r4',
      file: `fhir-test-cases/${c.file}`,
      expected: c.expected,
      txOnly: c.java_error_count > 0 && c.tx_related_errors === c.java_error_count,
      javaErrors: (c.first_errors ?? []).map((e) => (typeof e === 'string' ? e : JSON.stringify(e))),
      options: {},
    }),
  );
  const second = read<SecondSet>('fhir-test-cases/suite/cases.json').map(
    (c): SuiteCase => ({
      id: c.id,
      version: c.version,
      file: `fhir-test-cases/suite/${c.file}`,
      expected: c.expected,
      txOnly: c.java_tx_only,
      profilesFolder: c.profilesFolder ? `fhir-test-cases/suite/${c.profilesFolder}` : undefined,
      profileUrl: c.profileUrl ?? undefined,
      javaErrors: c.java_errors.map((e) => `${e.where}: ${e.text}`),
      options: c.options,
    }),
  );
  return [...first, ...second];
}

/** The Java validator options of a case that the gateway's validator has too (see src/validation/policy.ts). */
function policyOf(options: Record<string, unknown>): Partial<ContentPolicy> {
  const policy: Partial<ContentPolicy> = {};
  if (options['security-checks'] === true) policy.securityChecks = true;
  if (options.noHtmlInMarkdown === true) policy.htmlInMarkdown = 'error';
  if (options.examples === false) policy.exampleUrls = 'refuse';
  if (options.validateContains === 'IGNORE') policy.containedResources = 'ignore';
  if (typeof options.validateReference === 'string' && /^CHECK_(EXISTS|VALID)/.test(options.validateReference)) policy.unresolvedReferences = 'refuse';
  return policy;
}

/** Runs every case; validators are made once per release, profile folder and options. */
export async function runSuite(cases: SuiteCase[]): Promise<SuiteResult[]> {
  const validators = new Map<string, Promise<Validator>>();
  const validatorFor = (c: SuiteCase) => {
    const policy = policyOf(c.options);
    const key = `${c.version} ${c.profilesFolder ?? ''} ${JSON.stringify(policy)}`;
    let made = validators.get(key);
    if (!made) {
      made = createValidator({ version: c.version, profileFolders: c.profilesFolder ? [path.join(FIXTURES, c.profilesFolder)] : [], policy });
      validators.set(key, made);
    }
    return made;
  };
  const results: SuiteResult[] = [];
  for (const c of cases) {
    const validator = await validatorFor(c);
    results.push({ case: c, ...verdictOf(validator, c) });
  }
  return results;
}

function verdictOf(validator: Validator, c: SuiteCase): { verdict: Verdict; errors: string } {
  let errors: OperationOutcomeIssue[];
  try {
    const text = readFileSync(path.join(FIXTURES, c.file), 'utf8');
    // The Java validator's allow-comments reads JSON with comments; the gateway reads JSON, so they go first.
    const resource = parseResource(c.options['allow-comments'] ? withoutJsonComments(text) : text, c.version);
    errors = errorsOf(validator.validate(resource, { profiles: c.profileUrl ? [c.profileUrl] : [] }));
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    errors = errorsOf(error.outcome);
  }
  return { verdict: errors.length ? 'invalid' : 'valid', errors: describeIssues(errors) };
}

export interface Agreement {
  version: FhirVersion;
  agreed: number;
  total: number;
  /** Cases whose only Java errors need a terminology server, counted apart. */
  txAgreed: number;
  txTotal: number;
}

export function agreementOf(results: SuiteResult[], version: FhirVersion): Agreement {
  const mine = results.filter((r) => r.case.version === version);
  const agrees = (r: SuiteResult) => r.verdict === r.case.expected;
  const counted = mine.filter((r) => !r.case.txOnly);
  const apart = mine.filter((r) => r.case.txOnly);
  return {
    version,
    agreed: counted.filter(agrees).length,
    total: counted.length,
    txAgreed: apart.filter(agrees).length,
    txTotal: apart.length,
  };
}

export function describeDisagreement(r: SuiteResult): string {
  const java = r.case.javaErrors.length ? r.case.javaErrors.map((e) => `    java: ${e}`).join('\n') : '    java: (no errors)';
  const here = r.errors ? r.errors.split('\n').map((e) => `    here: ${e}`).join('\n') : '    here: (no errors)';
  return `${r.case.version} ${r.case.id}${r.case.txOnly ? ' [tx only]' : ''}: Java ${r.case.expected}, here ${r.verdict}\n${java}\n${here}`;
}

/** JSON with `//` and `/* *\/` comments outside strings, as plain JSON. */
function withoutJsonComments(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_, string: string | undefined) => string ?? '');
}
