/**
 * `npm run validate -- [--fhir-version r4|stu3] [--profile URL]... [--profiles-folder DIR]... [--ndjson] [--strict] [CHECKS] FILE...`
 *
 * Validates FHIR resources offline, JSON or XML, as the gateway does on every write, with the default profile
 * packages (profiles/packages/) and any folder given. Prints, like the HL7 validator's CLI, a summary per file:
 * the release and why, the verdict with its counts, each error, warning and note, and plainly which profiles were
 * not checked because they are not known. `--ndjson` prints one OperationOutcome per file instead (one line each).
 *
 * The release is the flag's, else the content's (src/validation/release.ts: XML that reads as one release only, a
 * declared profile only one release knows, elements only one release defines); content that fits both takes the
 * release the run's other files tell, if they agree, else R4; the summary says which and why. Exit code 1 when a file has an error, or with `--strict` when a
 * profile was not checked; 2 on wrong usage.
 *
 * CHECKS are the HL7 validator CLI's optional checks, with its defaults (src/validation/policy.ts):
 * `--security-checks` (HTML tags in strings are errors), `--html-in-markdown ignore|warning|error` (default warning),
 * `--allow-example-urls true|false` (default true), `--contained-resources validate|ignore` (default validate),
 * `--check-references` (references inside a Bundle or Parameters that resolve to none of its resources are errors).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { issue, notFound, type OperationOutcome, type OperationOutcomeIssue } from '../src/fhir/outcome.js';
import { FHIR_VERSIONS, type FhirVersion } from '../src/fhir/version.js';
import { createValidator, type Validator } from '../src/validation/index.js';
import type { ContentPolicy } from '../src/validation/policy.js';
import { detectRelease, releaseName, type ReleaseFinding } from '../src/validation/release.js';
import { declaredProfiles } from '../src/validation/values.js';

const USAGE =
  'usage: npm run validate -- [--fhir-version r4|stu3] [--profile URL]... [--profiles-folder DIR]... [--ndjson] [--strict] ' +
  '[--security-checks] [--html-in-markdown ignore|warning|error] [--allow-example-urls true|false] [--contained-resources validate|ignore] [--check-references] FILE...';
const DEFAULT_RELEASE: FhirVersion = 'r4';

interface FileResult {
  file: string;
  version?: FhirVersion;
  /** How the release was chosen, in words. */
  release: string;
  outcome: OperationOutcome;
  /** Declared or requested profiles this validator does not know, so did not check. */
  unchecked: string[];
}

type Validators = Record<FhirVersion, Validator>;

interface ReadFile {
  file: string;
  finding?: ReleaseFinding;
  /** Why the file could not be read at all. */
  failure?: OperationOutcome;
}

async function readAndDetect(file: string, validators: Validators): Promise<ReadFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { file, failure: notFound(`${file} cannot be read: ${(error as Error).message}`) };
  }
  return { file, finding: detectRelease(text, (version, url) => validators[version].knowsProfile(url)) };
}

/**
 * The flag's release; else the content's; else, when the other files of the run that tell their release all tell
 * the same one, that one (a message's resources come as a set); else R4. Each choice is said with its reason.
 */
function chooseRelease(finding: ReleaseFinding, requested: FhirVersion | undefined, runRelease: FhirVersion | undefined): [FhirVersion, string] {
  if (requested) return [requested, `${releaseName(requested)} (--fhir-version)`];
  if (finding.version) return [finding.version, `${releaseName(finding.version)}, because ${finding.reason}`];
  if (runRelease) return [runRelease, `${releaseName(runRelease)}, as the other files given: its own content cannot tell (${finding.reason})`];
  return [DEFAULT_RELEASE, `${releaseName(DEFAULT_RELEASE)}, the default: the release cannot be told from the content (${finding.reason}); pass --fhir-version to choose`];
}

function validateRead(read: ReadFile, validators: Validators, chosen: (finding: ReleaseFinding) => [FhirVersion, string], profiles: string[]): FileResult {
  const { file, finding } = read;
  if (!finding) return { file, release: 'none (not read)', outcome: read.failure!, unchecked: [] };
  const [version, release] = chosen(finding);
  const resource = finding.readAs[version];
  if (!resource) return { file, version, release, outcome: finding.unreadable[version]!.outcome, unchecked: [] };
  const validator = validators[version];
  const outcome = validator.validate(resource, { profiles });
  const unchecked = [...declaredProfiles(resource), ...profiles].filter((url) => !validator.knowsProfile(url));
  return { file, version, release, outcome, unchecked: [...new Set(unchecked)] };
}

const isError = (i: OperationOutcomeIssue) => i.severity === 'error' || i.severity === 'fatal';
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const LABEL = { fatal: 'Fatal', error: 'Error', warning: 'Warning', information: 'Information' } as const;

/** The validator's own issue about an unknown profile, already said plainly above it. */
const isUncheckedProfileIssue = (i: OperationOutcomeIssue, unchecked: string[]) =>
  i.code === 'not-found' && unchecked.some((url) => i.details?.text?.startsWith(`Profile ${url} `));

/** The HL7 CLI's shape: a header, `Success:`/`*FAILURE*:` with counts, one line per finding. */
function summary(result: FileResult, strict: boolean): string {
  const issues = result.outcome.issue.filter((i) => !(i.severity === 'information' && i.details?.text === 'No issues detected'));
  const errors = issues.filter(isError).length;
  const warnings = issues.filter((i) => i.severity === 'warning').length;
  const notes = issues.filter((i) => i.severity === 'information').length;
  const failed = errors > 0 || (strict && result.unchecked.length > 0);
  const lines = [
    `-- ${result.file} ${'-'.repeat(Math.max(3, 80 - result.file.length))}`,
    `Validated as ${result.release}`,
    `${failed ? '*FAILURE*' : 'Success'}: ${count(errors, 'error')}, ${count(warnings, 'warning')}, ${count(notes, 'note')}`,
    ...result.unchecked.map((url) => `  Profile not checked: ${url} is not known here, so the resource was not validated against it${strict ? ' (--strict: a failure)' : ''}`),
    ...issues.filter((i) => !isUncheckedProfileIssue(i, result.unchecked)).map((i) => `  ${LABEL[i.severity]} @ ${i.expression?.[0] ?? i.location?.[0] ?? '(file)'}: ${i.details?.text ?? i.diagnostics ?? i.code}`),
  ];
  return lines.join('\n');
}

/** The NDJSON outcome says which release it was validated as, and why, as a note. */
function withRelease(result: FileResult): OperationOutcome {
  return { ...result.outcome, issue: [...result.outcome.issue, issue('information', 'informational', `Validated as ${result.release}`)] };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        profile: { type: 'string', multiple: true, default: [] },
        'fhir-version': { type: 'string' },
        'profiles-folder': { type: 'string', multiple: true, default: [] },
        ndjson: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        'security-checks': { type: 'boolean', default: false },
        'html-in-markdown': { type: 'string', default: 'warning' },
        'allow-example-urls': { type: 'string', default: 'true' },
        'contained-resources': { type: 'string', default: 'validate' },
        'check-references': { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const requested = args.values['fhir-version']?.toLowerCase();
  const policy = policyOf(args.values);
  if (args.positionals.length === 0 || (requested !== undefined && !FHIR_VERSIONS.includes(requested as FhirVersion)) || !policy) {
    console.error(USAGE);
    return 2;
  }
  const profileFolders = args.values['profiles-folder'];
  const [r4, stu3] = await Promise.all(FHIR_VERSIONS.map((version) => createValidator({ version, profileFolders, policy })));
  const validators: Validators = { r4, stu3 };
  const { strict, ndjson } = args.values;
  const files = await Promise.all(args.positionals.map((file) => readAndDetect(file, validators)));
  const told = new Set(files.map((read) => read.finding?.version).filter((version) => version !== undefined));
  const runRelease = told.size === 1 ? [...told][0] : undefined;
  let failed = false;
  for (const read of files) {
    const result = validateRead(read, validators, (finding) => chooseRelease(finding, requested as FhirVersion | undefined, runRelease), args.values.profile);
    const { file } = result;
    const fails = result.outcome.issue.some(isError) || (strict && result.unchecked.length > 0);
    if (ndjson) {
      process.stdout.write(`${JSON.stringify(withRelease(result))}\n`);
      console.error(`${file}: ${fails ? 'invalid' : 'valid'}`);
    } else console.log(`${summary(result, strict)}\n`);
    failed ||= fails;
  }
  return failed ? 1 : 0;
}

/** The optional checks the flags ask for; undefined when a flag has a value it does not take. */
function policyOf(values: Record<string, unknown>): ContentPolicy | undefined {
  const oneOf = <T extends string>(value: unknown, allowed: readonly T[]) => (allowed.includes(value as T) ? (value as T) : undefined);
  const htmlInMarkdown = oneOf(values['html-in-markdown'], ['ignore', 'warning', 'error'] as const);
  const exampleUrls = oneOf(values['allow-example-urls'], ['true', 'false'] as const);
  const containedResources = oneOf(values['contained-resources'], ['validate', 'ignore'] as const);
  if (!htmlInMarkdown || !exampleUrls || !containedResources) return undefined;
  return {
    securityChecks: values['security-checks'] === true,
    htmlInMarkdown,
    exampleUrls: exampleUrls === 'true' ? 'allow' : 'refuse',
    containedResources,
    unresolvedReferences: values['check-references'] === true ? 'refuse' : 'allow',
  };
}

process.exitCode = await main();
