/**
 * `npm run conformance -- <script-or-folder>... --server <base-url> [options]`
 *
 * Runs FHIR TestScripts (STU3 or R4, XML or JSON) against a FHIR server and prints one line per operation and per
 * assert, a summary per script and for the run; exits 1 when an assert fails or a script cannot be run, 2 on wrong
 * usage. A general TestScript engine: fixtures, variables, setup/test/teardown, operations and asserts are what the
 * script says (docs/conformance.md).
 *
 *   --server <url>            the FHIR base of the system under test
 *   --token <bearer>          sent as Authorization on every request (in place of the script's placeholder tokens)
 *   --as <organisation>       a development gateway's token for that hosted organisation's EHR (see npm run token)
 *   --keep-script-auth        send the Authorization headers the script names instead
 *   --format json|xml         the wire format where the script names none (default json)
 *   --var name=value          a variable's value (as a tester enters it on Touchstone); repeatable
 *   --fhir-version r4|stu3    the scripts' release (default: the nearest properties.json, else r4)
 *   --profiles-folder <dir>   profiles for validateProfileId besides the repository's; repeatable
 *   --platform-port <port>    play the other system: start the test platform's FHIR server on this port (0: any free one)
 *   --platform-token <bearer> Authorization of the platform's own requests to the system under test
 *   --await-timeout <seconds> how long an awaited request may take to arrive (default 30)
 *   --plan                    print what would be done per script, send nothing
 *   --report text|json        the report's form (default text)
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import { FHIR_VERSIONS, type FhirVersion } from '../../src/fhir/version.js';
import { ehrAccessToken, ehrClient, runningBaseUrl } from '../ehr-token.js';
import { ConformanceUsage, TestScriptInvalid } from './errors.js';
import type { LoadedScript } from './model.js';
import { planLines, unsupportedElements } from './plan.js';
import { failed, jsonReport, summary, textReport } from './report.js';
import type { WireFormat } from './request.js';
import { runScript, type ScriptReport } from './runner.js';
import { startPlatform } from './platform.js';
import { findScripts, loadScript } from './script-file.js';
import { profileValidation } from './validate.js';

const USAGE =
  'usage: npm run conformance -- <script-or-folder>... --server <base-url> [--token <bearer>|--as <organisation>] [--format json|xml] [--var name=value]... [--fhir-version r4|stu3] [--profiles-folder <dir>]... [--keep-script-auth] [--platform-port <port>] [--platform-token <bearer>] [--await-timeout <seconds>] [--plan] [--report text|json]';
/** A development access token lives 60 s; a fresh one well before that. */
const TOKEN_REUSE_MS = 30_000;

function parse() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      as: { type: 'string' },
      'keep-script-auth': { type: 'boolean', default: false },
      format: { type: 'string', default: 'json' },
      var: { type: 'string', multiple: true, default: [] },
      'fhir-version': { type: 'string' },
      'profiles-folder': { type: 'string', multiple: true, default: [] },
      'platform-port': { type: 'string' },
      'platform-token': { type: 'string' },
      'await-timeout': { type: 'string', default: '30' },
      plan: { type: 'boolean', default: false },
      report: { type: 'string', default: 'text' },
    },
  });
  if (positionals.length === 0) throw new ConformanceUsage('name at least one TestScript or folder');
  if (!values.plan && !values.server) throw new ConformanceUsage('--server is required');
  if (values.format !== 'json' && values.format !== 'xml') throw new ConformanceUsage('--format is json or xml');
  if (values.report !== 'text' && values.report !== 'json') throw new ConformanceUsage('--report is text or json');
  if (values.token && values.as) throw new ConformanceUsage('--token or --as, not both');
  const port = values['platform-port'];
  if (port !== undefined && !(Number.isInteger(Number(port)) && Number(port) >= 0 && Number(port) <= 65535)) throw new ConformanceUsage('--platform-port is a port number');
  if (!(Number(values['await-timeout']) > 0)) throw new ConformanceUsage('--await-timeout is a number of seconds');
  const version = values['fhir-version'];
  if (version !== undefined && !FHIR_VERSIONS.includes(version as FhirVersion)) throw new ConformanceUsage('--fhir-version is r4 or stu3');
  return { values, positionals, version: version as FhirVersion | undefined };
}

function givenVariables(assignments: string[]): Record<string, string> {
  return Object.fromEntries(
    assignments.map((assignment) => {
      const at = assignment.indexOf('=');
      if (at <= 0) throw new ConformanceUsage(`--var ${assignment}: expected name=value`);
      return [assignment.slice(0, at), assignment.slice(at + 1)];
    }),
  );
}

/** The Authorization header to send, if the runner is given a credential. */
function authorization(token: string | undefined, organization: string | undefined): (() => Promise<string | undefined>) | undefined {
  if (token) return async () => (/^bearer /i.test(token) ? token : `Bearer ${token}`);
  if (!organization) return undefined;
  const config = loadConfig();
  const client = ehrClient(config, { organization });
  let cached: { value: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_REUSE_MS) cached = { value: `Bearer ${await ehrAccessToken(client, runningBaseUrl(config) ?? config.publicBaseUrl)}`, at: Date.now() };
    return cached.value;
  };
}

/** A script that cannot be read is reported as not run, and the others still run. */
function loadOrReport(file: string, version: FhirVersion | undefined): LoadedScript | ScriptReport {
  try {
    return loadScript(file, version);
  } catch (error) {
    if (!(error instanceof TestScriptInvalid)) throw error;
    return { file, name: file, problems: [error.message], results: [] };
  }
}

function printPlan(loaded: LoadedScript): boolean {
  const problems = unsupportedElements(loaded);
  console.log(`${loaded.script.title ?? loaded.script.name ?? loaded.file}  (${loaded.file})`);
  for (const problem of problems) console.log(`  NOT SUPPORTED  ${problem}`);
  for (const line of planLines(loaded)) console.log(`  ${line}`);
  return problems.length === 0;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals, version } = args;
  const loaded = positionals.flatMap(findScripts).map((file) => loadOrReport(file, version));
  const scripts = loaded.filter((entry): entry is LoadedScript => 'script' in entry);
  const unreadable = loaded.filter((entry): entry is ScriptReport => 'problems' in entry);
  for (const report of unreadable) console.log(`${textReport(report)}\n`);
  if (values.plan) return scripts.map(printPlan).every(Boolean) && unreadable.length === 0 ? 0 : 1;
  const platform = values['platform-port'] === undefined ? undefined : await startPlatform(version ?? scripts[0]?.version ?? 'r4', Number(values['platform-port']));
  if (platform) console.log(`test platform (the other system) at ${platform.base}: its FHIR base, notification and token endpoint\n`);
  const platformToken = values['platform-token'];
  const options = {
    platform,
    awaitTimeoutMs: Number(values['await-timeout']) * 1000,
    platformAuthorization: platformToken ? async () => (/^bearer /i.test(platformToken) ? platformToken : `Bearer ${platformToken}`) : undefined,
    server: values.server!,
    format: values.format as WireFormat,
    variables: givenVariables(values.var),
    authorization: values['keep-script-auth'] ? undefined : authorization(values.token, values.as),
    validate: profileValidation(values['profiles-folder']),
  };
  const reports: ScriptReport[] = [...unreadable];
  try {
    for (const loaded of scripts) {
      const report = await runScript(loaded, options);
      reports.push(report);
      if (values.report === 'text') console.log(`${textReport(report)}\n`);
    }
  } finally {
    await platform?.close();
  }
  console.log(values.report === 'json' ? jsonReport(reports) : summary(reports));
  return reports.some(failed) ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`npm run conformance: ${(error as Error).message}`);
  process.exitCode = 1;
}
