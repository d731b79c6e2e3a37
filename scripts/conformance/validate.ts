import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import type { ProfileCheck } from './asserts.js';

/**
 * `validateProfileId` by the gateway's own validator (src/validation), one per release, built on first use with the
 * repository's profiles and the folders given (`--profiles-folder`, e.g. the Nictiz eOverdracht profiles).
 */
export function profileValidation(profileFolders: string[]): ProfileCheck {
  const validators = new Map<FhirVersion, Promise<Validator>>();
  const validatorFor = (version: FhirVersion) => {
    if (!validators.has(version)) validators.set(version, createValidator({ version, profileFolders }));
    return validators.get(version)!;
  };
  return async (resource: Resource, profile: string, version: FhirVersion) => {
    const validator = await validatorFor(version);
    if (!validator.knowsProfile(profile)) return [`profile ${profile} is not known to the validator (give its folder with --profiles-folder)`];
    const outcome = validator.validate(resource, { profiles: [profile] });
    return outcome.issue
      .filter((issue) => issue.severity === 'error' || issue.severity === 'fatal')
      .map((issue) => `${issue.expression?.[0] ?? ''} ${issue.diagnostics ?? issue.details?.text ?? issue.code}`.trim());
  };
}
