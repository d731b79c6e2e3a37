import type { Outcome, ScriptReport, StepResult } from './runner.js';

const MARK: Record<Outcome, string> = { pass: 'PASS', fail: 'FAIL', warning: 'WARN', skip: 'SKIP' };

export interface Tally {
  pass: number;
  fail: number;
  warning: number;
  skip: number;
}

export function tally(results: StepResult[]): Tally {
  const counts: Tally = { pass: 0, fail: 0, warning: 0, skip: 0 };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
}

const asserts = (report: ScriptReport) => report.results.filter((result) => result.kind === 'assert');
const operations = (report: ScriptReport) => report.results.filter((result) => result.kind === 'operation');

function line(counts: Tally): string {
  return `${counts.pass} passed, ${counts.fail} failed, ${counts.warning} warnings, ${counts.skip} skipped`;
}

/** An operation passes by being sent and answered; whether the answer is right is for its asserts. */
function operationLine(counts: Tally): string {
  return `${counts.pass} sent, ${counts.fail} could not be sent, ${counts.skip} not the runner's to send`;
}

const markOf = (result: StepResult) => (result.kind === 'operation' && result.outcome === 'pass' ? 'SENT' : MARK[result.outcome]);

/** A script failed when it could not be run, an operation could not be sent, or an assert (not warning-only) failed. */
export function failed(report: ScriptReport): boolean {
  return report.problems.length > 0 || report.results.some((result) => result.outcome === 'fail');
}

export function textReport(report: ScriptReport): string {
  const lines = [`${report.name}  (${report.file})`];
  for (const problem of report.problems) lines.push(`  NOT RUN  ${problem}`);
  let part: string | undefined;
  for (const result of report.results) {
    if (result.part !== part) lines.push(`  ${(part = result.part)}`);
    const what = result.kind === 'operation' ? `[${result.label}]` : result.label;
    lines.push(`    ${markOf(result)}  ${what}: ${result.message}`);
  }
  lines.push(`  asserts: ${line(tally(asserts(report)))}; operations: ${operationLine(tally(operations(report)))}`);
  return lines.join('\n');
}

export function summary(reports: ScriptReport[]): string {
  const all = reports.flatMap(asserts);
  const notRun = reports.filter((report) => report.problems.length > 0).length;
  const failedScripts = reports.filter(failed).length;
  return [
    `${reports.length} script(s): ${reports.length - failedScripts} passed, ${failedScripts} failed${notRun ? ` (${notRun} not run)` : ''}`,
    `asserts: ${line(tally(all))}`,
    `operations: ${operationLine(tally(reports.flatMap(operations)))}`,
  ].join('\n');
}

export function jsonReport(reports: ScriptReport[]): string {
  return JSON.stringify({ scripts: reports.map((report) => ({ ...report, asserts: tally(asserts(report)) })), asserts: tally(reports.flatMap(asserts)) }, null, 2);
}
