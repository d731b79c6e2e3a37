import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { RunContext } from './context.js';
import { TestScriptInvalid } from './errors.js';
import { loadFixtures, loadScript, parseResourceText } from './script-file.js';
import { Variables } from './variables.js';

/**
 * A small EHR: feeds the system under test a scenario's data as the EHR of a hospital tenant would, so that a
 * gateway can be the sending XIS of a TestScript. The data are the scripts' own fixtures: the resources a test set's
 * `_LoadResources` script loads, and the workflow Task a scenario names. Requests carry the EHR's `authorization`.
 */
export interface EhrDriver {
  /**
   * PUTs each resource under its own id (create with the client's id, as Nictiz's load script does); answers those the
   * server refused, with its reason (a server that validates refuses test data that do not conform).
   */
  load(resources: Resource[]): Promise<Map<string, string>>;
  /** POSTs the workflow Task (its placeholder id dropped) and answers the id the server gave it. */
  createTask(task: Resource): Promise<string>;
}

/**
 * The resources a test set's load script (`_LoadResources/…`) puts on a server: its fixtures, with the script's
 * variables and Touchstone's placeholders filled in (Nictiz's data are dated relative to its variable `T`).
 */
export function resourcesToLoad(loadScriptFile: string): Resource[] {
  const loaded = loadScript(loadScriptFile);
  const fixtures = loadFixtures(loaded);
  const variables = new Variables(loaded.script.variable ?? [], {}, new RunContext(loaded.version, fixtures));
  return [...fixtures.values()].map((resource) => JSON.parse(variables.substituteDeclared(JSON.stringify(resource))) as Resource);
}

export function ehrDriver(server: string, version: FhirVersion, authorization: () => Promise<string>): EhrDriver {
  const base = server.replace(/\/$/, '');
  async function call(method: string, path: string, resource: Resource): Promise<Resource> {
    const response = await fetch(`${base}/${path}`, {
      method,
      headers: { authorization: await authorization(), accept: 'application/fhir+json', 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    });
    const text = await response.text();
    if (!response.ok) throw new TestScriptInvalid(`the EHR's ${method} ${path} answered ${response.status}: ${errorsIn(text)}`);
    return parseResourceText(text, version, `${method} ${path}`);
  }
  return {
    async load(resources) {
      const refused = new Map<string, string>();
      for (const resource of resources) {
        const key = `${resource.resourceType}/${resource.id}`;
        await call('PUT', key, resource).catch((error: Error) => refused.set(key, error.message));
      }
      return refused;
    },
    async createTask(task) {
      const { id: _placeholder, ...body } = task;
      return (await call('POST', 'Task', body as Resource)).id as string;
    },
  };
}

/** The error issues of an OperationOutcome answer (its warnings are not why a write was refused), else the text. */
function errorsIn(text: string): string {
  try {
    const issues = (JSON.parse(text) as { issue?: { severity?: string; details?: { text?: string }; diagnostics?: string; expression?: string[] }[] }).issue ?? [];
    return issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal').map((issue) => `${issue.expression?.join(',') ?? ''} ${issue.details?.text ?? issue.diagnostics ?? ''}`).join('; ');
  } catch {
    return text.slice(0, 500);
  }
}
