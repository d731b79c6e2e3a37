import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { isResource, type FhirVersion, type Resource } from '../../src/fhir/version.js';
import { detectFormat, parseResource } from '../../src/validation/source.js';
import { TestScriptInvalid } from './errors.js';
import type { LoadedScript, TestScript } from './model.js';
import { standardTestScriptXml } from './touchstone.js';

const TESTSCRIPT_ROOT = /^\uFEFF?\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<TestScript[\s>]|"resourceType"\s*:\s*"TestScript"/;

/**
 * The TestScripts a target names: the file itself, or every TestScript file below a folder. Folders whose name
 * starts with `_` hold what scripts refer to (Nictiz's `_reference`, `_LoadResources`), so a folder run skips them;
 * name such a script directly to run it.
 */
export function findScripts(target: string): string[] {
  if (!existsSync(target)) throw new TestScriptInvalid(`${target} does not exist`);
  if (statSync(target).isFile()) return [target];
  return readdirSync(target, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return entry.name.startsWith('_') ? [] : findScripts(full);
      return /\.(xml|json)$/.test(entry.name) && TESTSCRIPT_ROOT.test(readFileSync(full, 'utf8').slice(0, 2000)) ? [full] : [];
    });
}

const RELEASES: Record<string, FhirVersion> = { STU3: 'stu3', '3.0.2': 'stu3', R4: 'r4', '4.0.1': 'r4' };

/** The release a script is written in: the nearest properties.json (Nictiz's convention) names it; R4 otherwise. */
export function releaseOf(file: string): FhirVersion {
  for (let folder = path.dirname(path.resolve(file)); ; folder = path.dirname(folder)) {
    const properties = path.join(folder, 'properties.json');
    if (existsSync(properties)) {
      const declared = (JSON.parse(readFileSync(properties, 'utf8')) as { fhirVersion?: string }).fhirVersion;
      if (declared && RELEASES[declared]) return RELEASES[declared];
    }
    if (path.dirname(folder) === folder) return 'r4';
  }
}

/** A FHIR resource from a JSON or XML file, read by the gateway's own parsers. */
export function readResourceFile(file: string, version: FhirVersion): Resource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TestScriptInvalid(`${file} cannot be read: ${(error as Error).message}`);
  }
  return parseResourceText(text, version, file);
}

export function parseResourceText(text: string, version: FhirVersion, source: string): Resource {
  try {
    const resource = parseResource(text, version);
    if (!isResource(resource)) throw new TestScriptInvalid(`${source} is not a FHIR resource`);
    return resource;
  } catch (error) {
    if (error instanceof OperationOutcomeError) {
      const issues = error.outcome.issue.map((issue) => issue.diagnostics ?? issue.details?.text).join('; ');
      throw new TestScriptInvalid(`${source}: ${issues}`);
    }
    throw error;
  }
}

export function loadScript(file: string, version: FhirVersion = releaseOf(file)): LoadedScript {
  const raw = readFileSync(file, 'utf8');
  const text = detectFormat(raw) === 'xml' ? standardTestScriptXml(raw) : raw;
  const script = parseResourceText(text, version, file);
  if (script.resourceType !== 'TestScript') throw new TestScriptInvalid(`${file} holds a ${script.resourceType}, not a TestScript`);
  return { file, version, script: script as TestScript };
}

/** Every fixture the script declares: a contained resource (`#id`) or a file relative to the script. */
export function loadFixtures({ file, version, script }: LoadedScript): Map<string, Resource> {
  const fixtures = new Map<string, Resource>();
  for (const fixture of script.fixture ?? []) {
    const reference = fixture.resource?.reference;
    if (!reference) throw new TestScriptInvalid(`fixture ${fixture.id} names no resource`);
    fixtures.set(fixture.id, reference.startsWith('#') ? containedResource(script, reference.slice(1)) : readResourceFile(path.resolve(path.dirname(file), reference), version));
  }
  return fixtures;
}

function containedResource(script: TestScript, id: string): Resource {
  const found = script.contained?.find((resource) => resource.id === id);
  if (!found) throw new TestScriptInvalid(`fixture #${id}: no contained resource with that id`);
  return found;
}
