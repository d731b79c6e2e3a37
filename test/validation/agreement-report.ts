/**
 * Prints the agreement with the HL7 Java validator per release and every disagreement, Java's errors beside ours:
 * `npx tsx test/validation/agreement-report.ts [filter]`.
 */
import { agreementOf, describeDisagreement, runSuite, suiteCases } from './hl7-suite.js';

const filter = process.argv[2];
const cases = suiteCases().filter((c) => !filter || c.id.includes(filter));
const results = await runSuite(cases);
for (const r of results.filter((r) => r.verdict !== r.case.expected)) console.log(describeDisagreement(r));
for (const version of ['r4', 'stu3'] as const) {
  const a = agreementOf(results, version);
  const pct = (n: number, d: number) => (d ? ((100 * n) / d).toFixed(1) : '-');
  console.log(`${version}: ${a.agreed}/${a.total} (${pct(a.agreed, a.total)} %); terminology-only apart: ${a.txAgreed}/${a.txTotal}`);
}
