import type { Resource } from '../../src/fhir/version.js';
import { evaluateAssert, type AssertEnvironment, type ProfileCheck } from './asserts.js';
import { RunContext } from './context.js';
import type { Action, Assert, LoadedScript, Operation } from './model.js';
import { OWN_REQUEST, type Platform } from './platform.js';
import { describeAssert, describeOperation, fromPlatform, operationRole, unsupportedElements, type OperationRole } from './plan.js';
import { buildRequest, send, type RequestOptions } from './request.js';
import { assertRule, declaredRules } from './rules.js';
import { loadFixtures } from './script-file.js';
import { STOP_TEST_ON_FAIL_EXTENSION } from './touchstone.js';
import { Variables } from './variables.js';

export type Outcome = 'pass' | 'fail' | 'warning' | 'skip';

export interface StepResult {
  part: string;
  kind: 'operation' | 'assert';
  label: string;
  outcome: Outcome;
  message: string;
}

export interface ScriptReport {
  file: string;
  name: string;
  /** Why the script was not run at all (unsupported elements, unreadable fixtures). */
  problems: string[];
  results: StepResult[];
}

export interface RunOptions extends RequestOptions {
  /** Variable values the tester gives (`--var name=value`), as Touchstone asks for them. */
  variables: Record<string, string>;
  validate: ProfileCheck;
  /**
   * The other system of a two-system script, played by the runner: operations the system under test sends to it are
   * awaited there, the platform's loads into its simulated system are carried out on it. Without it they are skipped.
   */
  platform?: Platform;
  /** How long an awaited request may take to arrive (default 30 s). */
  awaitTimeoutMs?: number;
  /**
   * `Authorization` of the requests the platform's own client sends to the system under test (an origin not marked
   * as the system under test), as the organisation the platform plays; by default `authorization`.
   */
  platformAuthorization?: () => Promise<string | undefined>;
}

const NOT_SENT: Record<Exclude<OperationRole, 'send'>, string> = {
  await: 'awaits a request from the system under test; no test platform is running (see docs/conformance.md)',
  simulated: "loads the test platform's simulated system; no test platform is running",
};

const AWAIT_TIMEOUT_MS = 30_000;

/** Why the rest of a part is not carried out. */
interface PartState {
  stopped?: string;
  /** The operation before was not the runner's to send (awaited from the system under test, or the simulator's own). */
  notSent?: boolean;
}

class ScriptRun {
  readonly results: StepResult[] = [];
  private readonly context: RunContext;
  private readonly variables: Variables;
  private readonly environment: AssertEnvironment;
  private readonly rules: ReturnType<typeof declaredRules>;
  private readonly roleOf: (operation: Operation) => OperationRole;
  private readonly byPlatform: (operation: Operation) => boolean;

  constructor(
    private readonly loaded: LoadedScript,
    fixtures: Map<string, Resource>,
    private readonly options: RunOptions,
  ) {
    const { script, version } = loaded;
    this.context = new RunContext(version, fixtures);
    this.variables = new Variables(script.variable ?? [], options.variables, this.context);
    const profiles = new Map((script.profile ?? []).map((profile) => [profile.id ?? '', profile.reference ?? profile.value ?? '']));
    this.environment = { context: this.context, variables: this.variables, profiles, validate: options.validate };
    this.rules = declaredRules(script);
    this.roleOf = operationRole(script);
    this.byPlatform = fromPlatform(script);
  }

  async run(): Promise<void> {
    const { script } = this.loaded;
    if (this.options.platform) this.options.platform.operations = this.awaitedOperations();
    const setup: PartState = {};
    await this.autocreate(setup);
    await this.runActions('setup', script.setup?.action ?? [], setup, true);
    for (const test of script.test ?? []) {
      const part = `test ${test.name ?? ''}`.trim();
      if (setup.stopped) this.skipAll(part, test.action, `setup failed: ${setup.stopped}`);
      else await this.runActions(part, test.action, {}, false);
    }
    // Teardown cleans up as much as it can: one operation that cannot be sent does not stop the others.
    for (const action of script.teardown?.action ?? []) await this.runActions('teardown', [action], {}, false);
    await this.autodelete();
  }

  /** The operations (`$name`) the script awaits from the system under test: what the platform offers besides the interactions. */
  private awaitedOperations(): Set<string> {
    const { script } = this.loaded;
    const actions = [script.setup, ...(script.test ?? [])].flatMap((part) => part?.action ?? []);
    const awaited = actions.flatMap(({ operation }) => (operation && this.roleOf(operation) === 'await' ? [operation] : []));
    return new Set(awaited.flatMap((operation) => `${operation.params ?? ''} ${operation.url ?? ''}`.match(/\$[A-Za-z-]+/g) ?? []));
  }

  private record(part: string, kind: StepResult['kind'], label: string, outcome: Outcome, message: string): void {
    this.results.push({ part, kind, label, outcome, message });
  }

  private skipAll(part: string, actions: Action[], why: string): void {
    for (const action of actions) {
      if (action.operation) this.record(part, 'operation', operationLabel(action.operation), 'skip', why);
      else this.record(part, 'assert', assertLabel(action.assert!), 'skip', why);
    }
  }

  private async runActions(part: string, actions: Action[], state: PartState, stopOnAnyFailure: boolean): Promise<void> {
    for (const action of actions) {
      if (state.stopped) this.skipAll(part, [action], `not run: ${state.stopped}`);
      else if (action.operation) await this.runOperation(part, action.operation, state);
      else await this.runAssert(part, action.assert!, state, stopOnAnyFailure);
    }
  }

  private async runOperation(part: string, operation: Operation, state: PartState): Promise<void> {
    const label = operationLabel(operation);
    const role = this.roleOf(operation);
    const { platform } = this.options;
    if (role !== 'send' && !platform) {
      state.notSent = true;
      this.record(part, 'operation', label, 'skip', NOT_SENT[role]);
      return;
    }
    state.notSent = false;
    try {
      if (role === 'await') {
        await this.receive(part, label, operation, platform!);
        return;
      }
      const options = role === 'simulated' ? { ...this.options, server: platform!.base, authorization: undefined } : this.requestOptions(operation);
      const request = await buildRequest(operation, this.context, this.variables, options);
      if (role === 'simulated') Object.assign(request.headers, OWN_REQUEST);
      const response = await send(request, this.context.version);
      this.context.record({ request, response }, operation.requestId, operation.responseId);
      this.record(part, 'operation', label, 'pass', `${request.method} ${request.url} → ${response.status}${response.status >= 400 ? ` ${issuesOf(response.resource)}` : ''}`);
    } catch (error) {
      state.stopped = `${label} could not be carried out: ${(error as Error).message}`;
      this.record(part, 'operation', label, 'fail', (error as Error).message);
    }
  }

  private requestOptions(operation: Operation): RequestOptions {
    const { platformAuthorization } = this.options;
    return platformAuthorization && this.byPlatform(operation) ? { ...this.options, authorization: platformAuthorization } : this.options;
  }

  /** An operation the system under test sends to the platform: the first such request that arrived, with the platform's answer. */
  private async receive(part: string, label: string, operation: Operation, platform: Platform): Promise<void> {
    const expected = await buildRequest(operation, this.context, this.variables, { ...this.options, server: platform.base, authorization: undefined });
    const path = (url: string) => new URL(url).pathname.replace(/\/$/, '');
    const exchange = await platform.next((request) => request.method === expected.method && path(request.url) === path(expected.url), this.options.awaitTimeoutMs ?? AWAIT_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`awaited ${expected.method} ${expected.url}: ${error.message}`);
    });
    this.context.record(exchange, operation.requestId, operation.responseId);
    this.record(part, 'operation', label, 'pass', `received ${exchange.request.method} ${exchange.request.url} ← ${exchange.response.status}`);
  }

  private async runAssert(part: string, assert: Assert, state: PartState, stopOnAnyFailure: boolean): Promise<void> {
    const label = assertLabel(assert);
    if (state.notSent && !assert.sourceId) {
      this.record(part, 'assert', label, 'skip', 'about an exchange the runner does not take part in (see the operation before)');
      return;
    }
    let verdict;
    try {
      const rule = assertRule(assert.extension);
      verdict = rule ? this.rules.get(rule.ruleId)!(rule.params, this.context) : await evaluateAssert(assert, this.environment);
    } catch (error) {
      verdict = { passed: false, message: (error as Error).message };
    }
    const outcome: Outcome = verdict.passed ? 'pass' : assert.warningOnly ? 'warning' : 'fail';
    this.record(part, 'assert', label, outcome, verdict.message);
    if (outcome === 'fail' && (stopOnAnyFailure || stopTestOnFail(assert))) state.stopped = `${label} failed`;
  }

  /** Fixtures marked autocreate are put on the server before setup (update when they have an id, else create). */
  private async autocreate(state: PartState): Promise<void> {
    for (const fixture of this.loaded.script.fixture ?? []) {
      if (!fixture.autocreate || state.stopped) continue;
      const resource = this.context.fixtures.get(fixture.id)!;
      const code = resource.id ? 'update' : 'create';
      await this.runOperation('setup', { type: { code }, resource: resource.resourceType, sourceId: fixture.id, responseId: `autocreate-${fixture.id}`, label: `autocreate ${fixture.id}` }, state);
      const created = this.context.responses.get(`autocreate-${fixture.id}`);
      if (created && created.status >= 300) state.stopped = `autocreate ${fixture.id} answered ${created.status}`;
      if (created?.resource) this.context.fixtures.set(fixture.id, created.resource);
    }
  }

  private async autodelete(): Promise<void> {
    const deleted = new Set((this.loaded.script.fixture ?? []).filter((fixture) => fixture.autodelete).map((fixture) => this.context.fixtures.get(fixture.id)));
    for (const resource of deleted) {
      if (!resource?.id) continue;
      await this.runOperation('teardown', { type: { code: 'delete' }, url: `${resource.resourceType}/${resource.id}`, label: `autodelete ${resource.resourceType}/${resource.id}` }, {});
    }
  }
}

function operationLabel(operation: Operation): string {
  return operation.label ?? operation.description ?? describeOperation(operation);
}

function assertLabel(assert: Assert): string {
  return assert.label ?? assert.description ?? describeAssert(assert);
}

function stopTestOnFail(assert: Assert): boolean {
  const extension = assert.extension?.find((candidate) => candidate.url === STOP_TEST_ON_FAIL_EXTENSION);
  return assert.stopTestOnFail ?? extension?.valueBoolean ?? false;
}

/** Runs one script against the server: setup, each test, teardown; one result per operation and per assert. */
export async function runScript(loaded: LoadedScript, options: RunOptions): Promise<ScriptReport> {
  const report: ScriptReport = { file: loaded.file, name: loaded.script.title ?? loaded.script.name ?? loaded.script.id ?? loaded.file, problems: unsupportedElements(loaded), results: [] };
  if (report.problems.length) return report;
  let fixtures;
  try {
    fixtures = loadFixtures(loaded);
  } catch (error) {
    report.problems.push((error as Error).message);
    return report;
  }
  const run = new ScriptRun(loaded, fixtures, options);
  await run.run();
  report.results = run.results;
  return report;
}

/** What an OperationOutcome answer says went wrong, shown beside a refused operation. */
function issuesOf(resource: Resource | undefined): string {
  if (resource?.resourceType !== 'OperationOutcome') return '';
  const issues = (resource.issue as { severity?: string; details?: { text?: string }; diagnostics?: string }[] | undefined) ?? [];
  return issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal').map((issue) => issue.details?.text ?? issue.diagnostics ?? '').join('; ');
}
