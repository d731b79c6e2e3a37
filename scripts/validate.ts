/**
 * `npm run validate -- [--profile URL]... [--fhir-version r4|stu3] [--profiles-folder DIR]... FILE...`
 *
 * Validates FHIR resources offline, JSON or XML, as the gateway does on every write: prints one
 * OperationOutcome per file as NDJSON on stdout (a summary per file on stderr) and exits 1 when any has an
 * error, 2 on wrong usage. Without --fhir-version the release is chosen per file: the one that knows a profile
 * the resource declares, else the one whose validation finds fewer errors (R4 on a tie).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { hasErrors, notFound, OperationOutcomeError, type OperationOutcome } from '../src/fhir/outcome.js';
import { FHIR_VERSIONS, type FhirVersion, type Resource } from '../src/fhir/version.js';
import { createValidator, type Validator } from '../src/validation/index.js';
import { parseResource } from '../src/validation/source.js';

const USAGE = 'usage: npm run validate -- [--profile URL]... [--fhir-version r4|stu3] [--profiles-folder DIR]... FILE...';

interface Parsed {
  version: FhirVersion;
  resource?: Resource;
  failure?: OperationOutcome;
}

function parse(text: string, version: FhirVersion): Parsed {
  try {
    return { version, resource: parseResource(text, version) };
  } catch (error) {
    if (error instanceof OperationOutcomeError) return { version, failure: error.outcome };
    throw error;
  }
}

const errorCount = (outcome: OperationOutcome) => outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;

function declaredProfiles(resource: Resource | undefined): string[] {
  return (resource?.meta?.profile ?? []).filter((p): p is string => typeof p === 'string');
}

/** Validates with the one release asked for, or picks the release that fits the file best. */
function validateFile(text: string, validators: Validator[], profiles: string[]): OperationOutcome {
  const attempts = validators.map((validator) => {
    const parsed = parse(text, validator.version);
    const outcome = parsed.failure ?? validator.validate(parsed.resource, { profiles });
    const claims = declaredProfiles(parsed.resource).some((url) => validator.knowsProfile(url));
    return { outcome, claims };
  });
  const claimed = attempts.filter((a) => a.claims);
  const candidates = claimed.length === 1 ? claimed : attempts;
  return candidates.reduce((best, next) => (errorCount(next.outcome) < errorCount(best.outcome) ? next : best)).outcome;
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
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const requested = args.values['fhir-version'];
  if (args.positionals.length === 0 || (requested !== undefined && !FHIR_VERSIONS.includes(requested as FhirVersion))) {
    console.error(USAGE);
    return 2;
  }
  const versions = requested ? [requested as FhirVersion] : [...FHIR_VERSIONS];
  const profileFolders = args.values['profiles-folder'];
  const validators = await Promise.all(versions.map((version) => createValidator({ version, profileFolders })));
  let failed = false;
  for (const file of args.positionals) {
    let outcome: OperationOutcome;
    try {
      outcome = validateFile(await readFile(file, 'utf8'), validators, args.values.profile);
    } catch (error) {
      outcome = notFound(`${file} cannot be read: ${(error as Error).message}`);
    }
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
    const errors = errorCount(outcome);
    console.error(`${file}: ${hasErrors(outcome) ? `invalid (${errors} error${errors === 1 ? '' : 's'})` : 'valid'}`);
    failed ||= hasErrors(outcome);
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
