import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { PROFILES, ROUTING_EXTENSIONS } from '../../src/transfer/codes.js';
import { newTask } from '../../src/transfer/task.js';
import { createValidator } from '../../src/validation/index.js';
import { EOVERDRACHT } from './support.js';
import { CARE_TYPE_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * The Task `$offer` makes, with the care type in `performerType`, against each published eOverdracht Task profile:
 * the Nictiz one (1.0.0-rc.23, XML) and the Nuts generic-functions one (4.0.0, with the routing extensions). Both
 * share one canonical, so each is loaded from a folder of its own. A Task the EHR creates may carry the routing extensions.
 */
const folders: string[] = [];

function folderWith(file: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'task-profile-'));
  symlinkSync(path.join(EOVERDRACHT, 'profiles', file), path.join(folder, file));
  folders.push(folder);
  return folder;
}

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const task = (performerType: unknown): Record<string, unknown> => ({
  ...newTask({
    id: 'offered',
    group: 'urn:uuid:4f0e8a52-0c1e-4b8e-9d7a-2f3c1d5e6a7b',
    patient: 'Patient/p1',
    advanceNotice: 'Composition/c1',
    now: '2026-11-26T10:00:00Z',
    sender: { id: 'hospital', name: 'Ziekenhuis', ura: '11111111' },
    receiver: { id: 'vvt-1', name: 'VVT Een', ura: '22222222' },
  }),
  performerType,
});

const errorsOf = (result: { issue: { severity: string; details?: { text?: string } }[] }) =>
  result.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => i.details?.text);

describe.each([['Nictiz 1.0.0-rc.23', 'eOverdracht-Task.xml'], ['Nuts 4.0.0', 'eOverdracht-Task-STU3-profile.nl-generic-functions-ig.json']])(
  'the eOverdracht Task profile (%s)',
  (_name, file) => {
    it('accepts the offered Task with a care type in performerType (the profile is enforced, performerType still checked)', async () => {
      const validator = await createValidator({ version: 'stu3', profileFolders: [folderWith(file)], unknownExtensions: 'allow' });
      expect(validator.knowsProfile(PROFILES.task)).toBe(true);
      const options = { profiles: [PROFILES.task] };
      const careType = [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog', display: 'Eerstelijnsverblijf hoog complex' }] }];
      expect(errorsOf(validator.validate(task(careType), options))).toEqual([]);
      const { for: _patient, ...withoutPatient } = task(careType);
      expect(errorsOf(validator.validate(withoutPatient, options))).toEqual([expect.stringMatching(/Task\.for/)]);
      expect(errorsOf(validator.validate(task([{ coding: [{ system: CARE_TYPE_SYSTEM, code: 7 }] }]), options))).toEqual([expect.stringMatching(/code/)]);
    });

    it('accepts a Task the EHR routed with the HealthcareService and Location extensions', async () => {
      const validator = await createValidator({ version: 'stu3', profileFolders: [folderWith(file)], unknownExtensions: 'allow' });
      const extension = [
        { url: ROUTING_EXTENSIONS.healthcareService, valueReference: { reference: 'HealthcareService/verpleging', display: 'Verpleging' } },
        { url: ROUTING_EXTENSIONS.location, valueReference: { reference: 'Location/noord', display: 'Afdeling Noord' } },
      ];
      const { performerType: _none, ...offered } = task(undefined);
      expect(errorsOf(validator.validate({ ...offered, extension }, { profiles: [PROFILES.task] }))).toEqual([]);
    });
  },
);
